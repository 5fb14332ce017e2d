"""The loop: ``HealthCheck`` runs a check every interval, logs one line per result and notifies
on every change of state; ``Summary`` counts what happened."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from .. import envelope as env
from ..envelope import TEST_CONNECTION
from ..errors import OpsGenieIntegrationError
from ..redact import Redactor
from .notification import (
    EVENT_FAILED,
    EVENT_RECOVERED,
    EVENT_STILL_FAILING,
    FAILED,
    MAX_INTERVAL_MINUTES,
    PASSED,
    Notification,
    Notifier,
    iso,
    one_line,
    utcnow,
)


@dataclass(frozen=True)
class CheckResult:
    """One Test Connection: its 1-based ``number``, when it started (``checked_at``, UTC), how long
    it took (``seconds``) and its (scrubbed) ``envelope``."""

    number: int
    checked_at: datetime
    seconds: float
    envelope: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.envelope.get("return_data") == env.SUCCESSFUL

    @property
    def state(self) -> str:
        return PASSED if self.passed else FAILED


@dataclass
class Summary:
    """Counts of a health-check run (``as_dict`` is the JSON summary line)."""

    checks: int = 0
    passed: int = 0
    failed: int = 0
    state_changes: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0
    last_result: str | None = None
    stopped_by: str | None = None
    results: list[CheckResult] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "passed": self.passed,
            "failed": self.failed,
            "state_changes": self.state_changes,
            "notifications_sent": self.notifications_sent,
            "notifications_failed": self.notifications_failed,
            "last_result": self.last_result,
            "stopped_by": self.stopped_by,
        }


class HealthCheck:
    """Runs ``check`` every ``interval`` minutes and notifies on changes of state.

    Args:
        check: returns a Test Connection envelope (``TestConnectionCheck``); it must not raise
            (an exception is turned into a failed check all the same).
        interval: minutes between the starts of two checks (a float above 0, at most
            ``MAX_INTERVAL_MINUTES``). A check that takes longer than the interval is followed at
            once by the next one.
        count: stop after this many checks (an int, at least 1; None: until ``stop()``).
        notifiers: ``Notifier`` objects, each called in turn for every notification.
        notify_each_failure: also notify every failed check, not only changes of state.
        server_url: shown in notifications.
        redactor: the health check's one ``redact.Redactor``: hides its secrets (and any run of
            their first or last ``redact.PARTIAL_SECRET`` characters) in every line and every
            field of a notification, and is the one every notification carries; it may grow
            while running. A new, empty one when None.
        log: where result lines go (stderr); None: nowhere.
        clock: monotonic seconds (``time.monotonic``); now: wall time, UTC datetime.
        sleep: ``sleep(seconds)``; default sleeps in short slices and returns early after
            ``stop()``. Tests inject one that advances a fake clock.

    Raises:
        ValueError: ``interval`` not finite, <= 0 or too long; ``count`` not an int or < 1.
    """

    def __init__(
        self,
        check: Callable[[], dict[str, Any]],
        *,
        interval: float,
        count: int | None = None,
        notifiers: Sequence[Notifier] = (),
        notify_each_failure: bool = False,
        server_url: str | None = None,
        redactor: Redactor | None = None,
        log: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not (math.isfinite(interval) and 0 < interval <= MAX_INTERVAL_MINUTES):
            raise ValueError(
                f"interval must be a number of minutes above 0 and at most {MAX_INTERVAL_MINUTES:g}"
            )
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError("count must be a whole number, at least 1")
        self.check = check
        self.interval = float(interval)
        self.count = count
        self.notifiers = list(notifiers)
        self.notify_each_failure = notify_each_failure
        self.server_url = server_url
        self.redactor = redactor if redactor is not None else Redactor()
        self.log = log
        self.clock = clock
        self.now = now
        self._stop_requested = False
        self._sleep = sleep or self._wait
        self.summary = Summary()
        self._state: str | None = None
        self._failures_in_a_row = 0

    @property
    def interval_seconds(self) -> float:
        """The interval in s."""
        return self.interval * 60.0

    def stop(self, *_: Any) -> None:
        """Ask the loop to stop after the current check. Safe in a signal handler (it only sets a
        flag: taking a lock there could deadlock with the interrupted main thread)."""
        self._stop_requested = True

    @property
    def stopped(self) -> bool:
        return self._stop_requested

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` (s) in slices of 0.2 s, returning early once ``stop()`` was called."""
        deadline = time.monotonic() + seconds
        while not self._stop_requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))

    def _line(self, text: str) -> None:
        if self.log is None:
            return
        # scrubbed before it is cut short: a cut must not leave the first characters of a key
        text = one_line(self.redactor.text(text), 2000)
        self.log.write(self.redactor.text(f"health-check: {text}") + "\n")
        self.log.flush()

    def run(self) -> Summary:
        """Check until ``count`` checks ran or ``stop()`` was called; returns the summary."""
        while not self.stopped:
            started = self.clock()
            self.check_once()
            if self.count is not None and self.summary.checks >= self.count:
                self.summary.stopped_by = "count"
                break
            wait = started + self.interval_seconds - self.clock()
            if wait > 0 and not self.stopped:
                self._sleep(wait)
        if self.summary.stopped_by is None:
            self.summary.stopped_by = "signal"
        return self.summary

    def check_once(self) -> CheckResult:
        """Run one check, log its line, update the counts and send the notifications it calls for."""
        number = self.summary.checks + 1
        checked_at = self.now()
        started = self.clock()
        try:
            envelope = self.check()
        except Exception as exc:  # noqa: BLE001 - a check must not kill the loop
            error = OpsGenieIntegrationError(
                f"The check itself failed ({type(exc).__name__}).", error_type="internal"
            )
            envelope = env.failure(TEST_CONNECTION, error)
        envelope = self.redactor.value(envelope)
        result = CheckResult(number, checked_at, self.clock() - started, envelope)
        summary = self.summary
        summary.checks = number
        summary.results.append(result)
        summary.last_result = result.state
        if result.passed:
            summary.passed += 1
            self._failures_in_a_row = 0
            self._line(f"{iso(checked_at)} check {number}: passed ({result.seconds:.2f} s)")
        else:
            summary.failed += 1
            self._failures_in_a_row += 1
            text = (envelope.get("error") or {}).get("text") or "Test Connection failed."
            self._line(f"{iso(checked_at)} check {number}: FAILED ({result.seconds:.2f} s): {text}")
        previous, self._state = self._state, result.state
        changed = previous != result.state if previous is not None else not result.passed
        if changed:
            summary.state_changes += 1
            event = EVENT_RECOVERED if result.passed else EVENT_FAILED
        elif not result.passed and self.notify_each_failure:
            event = EVENT_STILL_FAILING
        else:
            return result
        self.notify(
            Notification(
                event=event,
                state=result.state,
                previous_state=previous,
                check=number,
                checked_at=checked_at,
                consecutive_failures=self._failures_in_a_row,
                server_url=self.server_url,
                envelope=envelope,
                redactor=self.redactor,
            )
        )
        return result

    def notify(self, notification: Notification) -> None:
        """Send ``notification`` by every notifier; each failure is logged and counted. Every
        field the notifiers see is hidden by the one redactor (the Server URL may hold the key),
        and the notification carries that redactor."""
        notification = dataclasses.replace(
            notification,
            server_url=(
                self.redactor.text(notification.server_url)
                if notification.server_url is not None
                else None
            ),
            envelope=self.redactor.value(notification.envelope),
            redactor=self.redactor,
        )
        for notifier in self.notifiers:
            try:
                notifier.send(notification)
            except Exception as exc:  # noqa: BLE001 - one notifier must not stop the rest
                self.summary.notifications_failed += 1
                detail = one_line(self.redactor.text(str(exc)), 300)
                self._line(
                    f"notifying {notification.event} by {notifier.name} failed: "
                    f"{type(exc).__name__}{': ' + detail if detail else ''}"
                )
            else:
                self.summary.notifications_sent += 1
                self._line(f"notified {notification.event} by {notifier.name}")
