"""``TestConnectionCheck``: one Test Connection with the health check's one redactor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import envelope as env
from ..envelope import TEST_CONNECTION
from ..errors import OpsGenieIntegrationError
from ..integration import Integration
from ..redact import Redactor, secret_values


class TestConnectionCheck:
    """A callable that runs Test Connection once with ``settings`` and returns its envelope.

    It connects anew each time (a rotated key or vault secret is picked up; an unresolvable
    reference gives a Failed envelope naming the reference). ``redactor`` (a new one from
    ``Integration.redactor_for`` when None) is the health check's one redactor: it is given the
    secrets and variables of ``settings`` at once (every ``secret: true`` setting under any
    spelling of its name: ``api_key``, ``API Key``, ``api-key``...), ``connect`` adds the resolved
    key, and every envelope returned is hidden by it. When the settings are invalid (validation
    fails before the reference is resolved) the check resolves the references itself, since
    another setting, such as a Server URL with ``?apiKey=``, may hold the key.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        integration: Integration,
        settings: Mapping[str, Any],
        redactor: Redactor | None = None,
    ) -> None:
        self.integration = integration
        self.settings = dict(settings)
        self.redactor = redactor if redactor is not None else Redactor()
        self.redactor.update(integration.redactor_for(self.settings))

    def _resolve_anyway(self) -> None:
        """Learn the resolved secrets when ``connect`` failed, perhaps before resolving them."""
        parameters = self.integration.manifest.connection_parameters
        for value in secret_values(parameters, self.settings):
            try:
                self.redactor.add([self.integration.resolve_secret(value)])
            except Exception:  # noqa: BLE001, S112 - the failed check already says what is wrong
                continue

    def __call__(self) -> dict[str, Any]:
        try:
            connection = self.integration.connect(self.settings, redactor=self.redactor)
        except OpsGenieIntegrationError as exc:
            self._resolve_anyway()
            return self.redactor.value(env.failure(TEST_CONNECTION, exc))
        with connection:
            envelope = self.integration.run(TEST_CONNECTION, {}, connection)
        return self.redactor.value(envelope)
