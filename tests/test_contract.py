"""The contract checker itself: it must catch what it exists to catch."""

from __future__ import annotations

import contract


def test_contract_checker_catches_bad_requests(shared_dir):
    spec = contract.load_spec(
        str(shared_dir / "opsgenie" / "openapi" / "opsgenie-v2-subset.openapi3.json")
    )
    ok = "https://api.opsgenie.com/v2/schedules/Ops%20Team%2FEU%20%231/timeline?identifierType=name&intervalUnit=days"
    assert contract.check_request(spec, "GET", ok) == []
    assert (
        contract.check_request(
            spec, "GET", "https://x/v2/schedules/a/on-calls?scheduleIdentifierType=name&flat=true"
        )
        == []
    )
    bad = [
        "https://x/v2/schedules/a/on-calls?identifierType=name",  # the other endpoint's parameter name
        "https://x/v2/schedules/a/timeline?intervalUnit=hours",  # enum
        "https://x/v2/alerts?limit=500",  # maximum
        "https://x/v2/alerts?sort=priority",  # not a sort field
        "https://x/v2/nope",  # no operation
    ]
    for url in bad:
        assert contract.check_request(spec, "GET", url), url
    assert (
        contract.find_operation(spec, "GET", "/v2/schedules/on-calls")[0]
        == "/v2/schedules/on-calls"
    )
