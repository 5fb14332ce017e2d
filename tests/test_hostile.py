"""Hostile input and hostile servers, through ``Integration.run`` (the CLI's: tests/cli/).

Each case ends in one valid envelope (or a clean CLI error) naming what is wrong, within a bounded
time and memory, and never shows the API key.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests_mock as rm
from conftest import API_KEY, BASE, REPO
from jsonschema import Draft202012Validator

from opsgenie_integration.checkpoint import MAX_SEEN_IDS, Checkpoint, CheckpointError
from opsgenie_integration.redact import Redactor

ENVELOPE = Draft202012Validator(json.loads((REPO / "schemas" / "envelope.schema.json").read_text()))


def checked(envelope, *secrets):
    ENVELOPE.validate(envelope)
    text = json.dumps(envelope)
    for secret in (API_KEY, *secrets):
        assert secret not in text
    return envelope


# -- a server that misbehaves on purpose --------------------------------------------------------


class EvilHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour = "json"
    requests_seen: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests_seen.append(self.path)
        kind = type(self).behaviour
        if kind == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"[" * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
        if kind == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "echo_key":
            body = json.dumps(
                {"data": {"echo": self.headers.get("Authorization")}, "took": 0, "requestId": "r"}
            )
        elif kind == "nan":
            body = '{"data": [], "took": NaN, "requestId": "r"}'
        elif kind == "deep":
            body = '{"data": ' + "[" * 100000 + "]" * 100000 + "}"
        elif kind == "stale":
            alerts = [{"id": f"a{i}", "updatedAt": "2001-01-01T00:00:00Z"} for i in range(100)]
            body = json.dumps({"data": alerts, "took": 0, "requestId": "r"})
        elif kind == "garbage_retry_after":
            self.send_response(429)
            self.send_header("Retry-After", "soon-ish")
            self.send_header("Content-Type", "application/json")
            payload = (
                b'{"message": "You are making too many requests!", "took": 0, "requestId": "r"}'
            )
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        else:
            body = json.dumps(type(self).body)
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def evil():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EvilHandler)
    server.daemon_threads = True
    EvilHandler.requests_seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def configure(behaviour, body=None):
        EvilHandler.behaviour = behaviour
        EvilHandler.body = body
        return {
            "server_url": f"http://127.0.0.1:{server.server_address[1]}",
            "api_key": API_KEY,
            "max_retry_time": 0,
            "timeout": 1,
        }

    yield configure
    server.shutdown()
    server.server_close()


@pytest.mark.no_contract
@pytest.mark.parametrize(
    "behaviour, words, bound",
    [
        ("endless", "larger than 8 MB", 20),
        ("drip", "kept arriving", 6),
        ("nan", "not JSON", 5),
        ("deep", "not JSON", 5),
        ("redirect", "does not redirect", 5),
    ],
)
def test_hostile_answers_are_bounded(integration, evil, behaviour, words, bound):
    started = time.monotonic()
    envelope = checked(integration.run("Get Schedules", {}, evil(behaviour)))
    assert words in envelope["error"]["message"]
    assert time.monotonic() - started < bound
    assert len(EvilHandler.requests_seen) == 1  # a redirect is not followed


@pytest.mark.no_contract
def test_429_with_a_garbage_retry_after_is_still_rate_limited(integration, evil):
    envelope = checked(
        integration.run("Get Schedules", {}, {**evil("garbage_retry_after"), "max_retry_time": 1})
    )
    assert envelope["error"]["status_code"] == 429 and envelope["error"]["type"] == "rate_limited"


@pytest.mark.no_contract
@pytest.mark.parametrize(
    "command, inputs",
    [
        ("Get Schedules", {}),
        ("Get Single User", {"user": "x"}),
        ("Get On-call User", {"Schedule Name": "x"}),
        ("Get Schedule Timeline", {"Schedule Name": "x"}),
    ],
)
@pytest.mark.parametrize("data", ["oops", None, 5])
def test_wrong_data_types_are_bad_responses(integration, evil, command, inputs, data):
    envelope = checked(
        integration.run(command, inputs, evil("json", {"data": data, "took": 0, "requestId": "r"}))
    )
    assert envelope["return_data"] == "Failed" and envelope["error"]["type"] == "bad_response"


@pytest.mark.no_contract
def test_server_ignoring_the_time_window_stops_at_once(integration, evil):
    ck = (
        base64.urlsafe_b64encode(
            json.dumps(
                {
                    "t": 1700000000000,
                    "ids": [f"a{i}" for i in range(100)],
                    "end": None,
                    "q": "e3b0c44298fc1c14",
                }
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    envelope = checked(integration.run("Fetch Event", {"Checkpoint": "ck1." + ck}, evil("stale")))
    assert (
        envelope["error"]["type"] == "bad_response"
        and "outside the requested updatedAt window" in envelope["error"]["message"]
    )
    assert len(EvilHandler.requests_seen) <= 2


@pytest.mark.no_contract
@pytest.mark.parametrize("key", ['s3cr"et-key-1234', "s3cr\\et-key-1234", "s3cr'et/key+1234"])
def test_key_echoed_by_the_server_is_scrubbed_whatever_its_characters(integration, evil, key):
    envelope = integration.run(
        "Get Single User", {"user": "x"}, {**evil("echo_key"), "api_key": key}
    )
    assert key not in json.dumps(envelope) and key not in json.dumps(envelope, ensure_ascii=False)
    assert "[REDACTED]" in json.dumps(envelope)


def test_redactor_finds_secrets_that_json_would_escape():
    for secret in ('a"b\\c\x01d', "clé-ünïcode"):
        value = {"k": [f"x{secret}y"], secret: 1}
        cleaned = json.dumps(Redactor([secret]).value(value), ensure_ascii=False)
        assert secret not in cleaned and "[REDACTED]" in cleaned


# -- hostile inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [".", "..", " .. "])
@pytest.mark.parametrize(
    "command, field",
    [
        ("Get On-call User", "Schedule Name"),
        ("Get Schedule Timeline", "Schedule Name"),
        ("Get Single User", "Username or ID"),
    ],
)
def test_dot_names_cannot_reach_another_endpoint(integration, conn, command, field, name):
    with rm.Mocker() as m:
        envelope = checked(integration.run(command, {field: name}, conn))
        assert m.request_history == []
    assert envelope["error"]["type"] == "validation" and envelope["error"]["message"].startswith(
        field
    )


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"api_key": 123456789012345}, "not shown (secret)"),
        ({"api_key": [API_KEY]}, "expected text, got list of 1 items"),
        (
            {"api_key": API_KEY, "server_url": f"https://api.opsgenie.com/?k={API_KEY}"},
            "Server URL",
        ),
        ({"api_key": API_KEY, "timeout": float("nan")}, "expected a finite number"),
        ({"api_key": API_KEY + "ключ"}, "printable ASCII"),
        (
            {"api_key": API_KEY, "server_url": "https://a..b"},
            "Server URL (server_url): expected https://api.opsgenie.com",
        ),
    ],
)
def test_bad_settings_never_show_the_key(integration, settings, words):
    envelope = checked(
        integration.run("Get Schedules", {}, settings), "123456789012345", API_KEY[:20]
    )
    assert envelope["error"]["type"] == "configuration" and words in envelope["error"]["message"]


@pytest.mark.parametrize(
    "inputs, words",
    [
        ({"Start Time": "999999 weeks ago"}, "Start Time (start_time): expected a time"),
        ({"Start Time": "1960-01-01"}, "Start Time (start_time): expected a time"),
        (
            {"End Time": "١٧٠٠٠٠٠٠٠٠٠٠٠"},
            "End Time (end_time): expected a time",
        ),  # Arabic-Indic digits
        (
            {
                "Checkpoint": "ck1."
                + base64.urlsafe_b64encode(
                    b'{"t": 9999999999999999, "ids": [], "end": null, "q": ""}'
                ).decode()
            },
            "Checkpoint (checkpoint)",
        ),
        (
            {"Checkpoint": "ck1." + base64.urlsafe_b64encode(b"[" * 50000).decode()},
            "Checkpoint (checkpoint)",
        ),
        ({"Search Condition": {"a": [1] * 10}}, "expected text, got dict"),
        ({"Number of Event(s) Fetched": float("inf")}, "expected a finite number"),
    ],
)
def test_hostile_fetch_inputs(integration, conn, inputs, words):
    with rm.Mocker() as m:
        envelope = checked(integration.run("Fetch Event", inputs, conn))
        assert m.request_history == []
    assert envelope["error"]["type"] == "validation" and words in envelope["error"]["message"]


BOMB = """a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_yaml_bomb_field_mapping_file_is_refused_quickly(integration, conn, tmp_path):
    mapping = tmp_path / "bomb.yaml"
    mapping.write_text(BOMB + "main_event_json_path: $.data\nfields: *g\ndescription: *g\n")
    started = time.monotonic()
    envelope = checked(integration.run("Fetch Event", {"Field Mapping File": str(mapping)}, conn))
    assert "anchors/aliases" in envelope["error"]["message"] and time.monotonic() - started < 5
    # the --connection file's half: tests/cli/test_connection.py


def test_file_reference_to_a_fifo_does_not_block(integration, tmp_path):
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    envelope = checked(integration.run("Get Schedules", {}, {"api_key": f"file:{fifo}"}))
    assert "not a regular file" in envelope["error"]["message"] and time.monotonic() - started < 2


class SlowHeaders(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(600):
                self.wfile.write(b"X")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            return


@pytest.mark.no_contract
def test_headers_dripped_one_byte_at_a_time_are_abandoned(integration):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHeaders)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        envelope = checked(
            integration.run(
                "Get Schedules",
                {},
                {
                    "server_url": f"http://127.0.0.1:{server.server_address[1]}",
                    "api_key": API_KEY,
                    "timeout": 1,
                    "max_retry_time": 0,
                },
            )
        )
        assert envelope["error"]["type"] == "timeout"
        assert time.monotonic() - started < 5  # the answer deadline: twice the 1 s read timeout
    finally:
        server.shutdown()
        server.server_close()


# -- second adversarial pass ---------------------------------------------------------------------


def _alerts(stamps):
    return [
        {"id": f"id-{i}", "tinyId": str(i), "updatedAt": stamp} for i, stamp in enumerate(stamps)
    ]


@pytest.mark.no_contract
def test_alerts_not_sorted_ascending_are_a_bad_response(integration, evil):
    body = {
        "data": _alerts(["2024-03-01T00:00:02Z", "2024-03-01T00:00:01Z"]),
        "took": 0,
        "requestId": "r",
    }
    envelope = checked(
        integration.run(
            "Fetch Event",
            {"Start Time": "2024-03-01", "End Time": "2024-03-02"},
            evil("json", body),
        )
    )
    assert (
        envelope["error"]["type"] == "bad_response"
        and "not sorted by updatedAt" in envelope["error"]["message"]
    )


@pytest.mark.no_contract
def test_a_server_ignoring_offset_is_reported_not_skipped(integration, evil):
    stamps = ["2024-03-01T00:00:00.500Z"] * 100
    body = {"data": _alerts(stamps), "took": 0, "requestId": "r"}
    ck = (
        base64.urlsafe_b64encode(
            json.dumps(
                {
                    "t": 1709251200500,
                    "ids": [f"id-{i}" for i in range(100)],
                    "end": None,
                    "q": "e3b0c44298fc1c14",
                }
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    envelope = checked(
        integration.run("Fetch Event", {"Checkpoint": "ck1." + ck}, evil("json", body))
    )
    assert envelope["error"]["type"] == "fetch_moving" and envelope["error"]["retryable"] is True
    assert len(EvilHandler.requests_seen) < 20


@pytest.mark.no_contract
@pytest.mark.parametrize(
    "data, command, inputs",
    [
        (
            {
                "_parent": {},
                "onCallParticipants": [
                    {"id": {"x": 1}, "name": ["a"], "type": "user"},
                    {"id": "t", "name": ["team"], "type": "team"},
                ],
                "onCallRecipients": [["x"]],
            },
            "Get On-call User",
            {"Schedule Name": "s"},
        ),
    ],
)
def test_odd_participant_values_are_shown_not_crashed_on(integration, evil, data, command, inputs):
    envelope = checked(
        integration.run(command, inputs, evil("json", {"data": data, "took": 0, "requestId": "r"}))
    )
    assert envelope["return_data"] == "Successful"
    assert envelope["on_call_users"][0]["name"] == '["a"]'


@pytest.mark.no_contract
@pytest.mark.parametrize("rotations", [{"a": 1}, "x", None])
def test_timeline_without_a_list_of_rotations_is_a_bad_response(integration, evil, rotations):
    data = {"_parent": {}, "finalTimeline": {"rotations": rotations}}
    envelope = checked(
        integration.run(
            "Get Schedule Timeline",
            {"Schedule Name": "s"},
            evil("json", {"data": data, "took": 0, "requestId": "r"}),
        )
    )
    assert envelope["error"]["type"] == "bad_response"


@pytest.mark.no_contract
def test_infinite_numbers_from_the_server_are_a_bad_response(integration, evil):
    EvilHandler.behaviour = "raw"
    body = {
        "data": [{"id": "a", "updatedAt": "2024-03-01T00:00:00Z", "count": "@@"}],
        "took": 0,
        "requestId": "r",
    }
    envelope = integration.run(
        "Fetch Event", {"Start Time": "2024-03-01", "End Time": "2024-03-02"}, evil("json", body)
    )
    assert (
        envelope["return_data"] == "Successful"
    )  # (control: the same body with a normal count works)
    raw = json.dumps(body).replace('"@@"', "1e999")
    with rm.Mocker() as m:
        m.get(rm.ANY, text=raw)
        envelope = checked(
            integration.run(
                "Fetch Event",
                {"Start Time": "2024-03-01", "End Time": "2024-03-02"},
                {"server_url": BASE, "api_key": API_KEY, "max_retry_time": 0},
            )
        )
    assert envelope["error"]["type"] == "bad_response"


@pytest.mark.parametrize(
    "inputs, words",
    [
        (
            {"Start Time": 1709251200000.0, "End Time": 1709337600000.0},
            None,
        ),  # integral floats are the integers they mean
        ({"End Time": "3 days ago"}, "End Time (end_time): is before the default Start Time"),
        ({"Search Condition": "x:a\\) OR updatedAt>=0 OR \\(y:b"}, "Search Condition (query)"),
        ({"Search Condition": "message: x\\"}, "Search Condition (query)"),
    ],
)
def test_second_pass_inputs(integration, conn, inputs, words):
    with rm.Mocker() as m:
        m.get(rm.ANY, json={"data": [], "took": 0, "requestId": "r"})
        envelope = checked(integration.run("Fetch Event", inputs, conn))
    if words is None:
        assert envelope["return_data"] == "Successful"
        assert (
            "updatedat >= 1709251200000 and updatedat < 1709337600000"
            == m.request_history[0].qs["query"][0]
        )
    else:
        assert envelope["error"]["type"] == "validation" and words in envelope["error"]["message"]


def test_api_version_with_a_newline_names_the_api_version(integration):
    envelope = checked(
        integration.run("Get Schedules", {}, {"api_key": API_KEY, "api_version": "v2\n"})
    )
    assert envelope["error"]["message"].startswith("API Version (api_version)")


@pytest.mark.parametrize("name", ["api-key", "API  Key", "API_KEY"])
def test_key_under_any_accepted_spelling_is_hidden(integration, name):
    envelope = integration.run(
        "Fetch Event",
        {"Start Time": f"x{API_KEY}x" * 3},
        {name: API_KEY, "server_url": f"https://api.opsgenie.com/?k={API_KEY}"},
    )
    text = json.dumps(envelope)
    assert API_KEY[:20] not in text and envelope["return_data"] == "Failed"


@pytest.mark.parametrize("make", ["fifo", "dev_zero", "directory"])
def test_unreadable_field_mapping_files_are_refused_without_reading(
    integration, conn, tmp_path, make
):
    path = {"fifo": tmp_path / "m.fifo", "dev_zero": "/dev/zero", "directory": tmp_path}[make]
    if make == "fifo":
        os.mkfifo(path)
    started = time.monotonic()
    envelope = checked(integration.run("Fetch Event", {"Field Mapping File": str(path)}, conn))
    assert "not a regular file" in envelope["error"]["message"] and time.monotonic() - started < 2
    # the --connection file's half: tests/cli/test_connection.py


def test_checkpoint_holding_more_ids_than_the_cap_is_refused_clearly():
    too_many = Checkpoint(1, frozenset(str(i) for i in range(MAX_SEEN_IDS + 1)), None, "q").encode()
    with pytest.raises(CheckpointError):
        Checkpoint.decode(too_many)
