"""Exception alerts for leaders, in small stages after Alertmanager's notify pipeline.

    rows → group (one alert per measure and period) → inhibit (a missing figure mutes the
    measure's other reasons) → silence (a silenced measure says nothing) → dedup against the
    ledger → send with retry → record

One summary message per reporting window (a cycle). It is posted when the window is ready (it
has closed, or every figure is in) and afterwards updated in place: a corrected value changes
the summary without a new message; a new exception or one that clears also gets a short
follow-up, because an edited message notifies nobody.

Transport-agnostic: a `Sender` posts, updates and follows up (the Slack one is
`bot.slack.notify.SlackAlertSender`). Nothing here reads the clock: `now` is passed in and the
retry stage's `sleep` can be replaced, so tests never wait.

>>> rows = [{"id": "OD-02", "period": "2026-10", "status": "red", "display_value": "80%"},
...         {"id": "OD-03", "period": "2026-10", "status": "missing",
...          "exception_reasons": ["missing", "consistently_failing"]}]
>>> [(a.measure_id, a.reasons) for a in inhibit(group(rows))]
[('OD-02', ('red',)), ('OD-03', ('missing',))]
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.digest_model import EXCEPTION_REASONS
from bot.store import Store
from bot.values import format_value

# Why a measure needs a leader's attention, most serious first: defined once, in the core.
REASONS = EXCEPTION_REASONS
# No figure yet and not yet due: nothing to say, whatever its history says.
SILENT_STATUSES = ("outstanding",)

WINDOW, ALERT, CLEAR = "alert-window", "alert", "alert-clear"  # ledger kinds
T = TypeVar("T")


class DeliveryError(Exception):
    """A transport could not deliver; `transient` ones are worth trying again shortly."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Alert:
    """One measure's exception in one period, with what leaders read about it."""

    measure_id: str
    period: str
    reasons: tuple[str, ...]
    name: str = ""
    status: str = ""
    display_value: str = ""
    target_display: str = ""
    commentary: str = ""
    owner: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.measure_id, self.period

    @property
    def fingerprint(self) -> str:
        """Changes when what leaders were told changes: the value, its status or the reasons."""
        told = "|".join((",".join(self.reasons), self.status, self.display_value))
        return hashlib.sha1(told.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Summary:
    """The window's message: what is firing now and what was alerted but has cleared."""

    cycle: str
    cycle_label: str
    firing: tuple[Alert, ...]
    cleared: tuple[Alert, ...]
    as_of: datetime


@dataclass(frozen=True)
class Plan:
    """What changed since leaders were last told."""

    new: tuple[Alert, ...] = ()  # firing, not told in this episode
    changed: tuple[Alert, ...] = ()  # told, but the value (or status, reasons) has changed
    cleared: tuple[Alert, ...] = ()  # told, no longer firing

    @property
    def empty(self) -> bool:
        return not (self.new or self.changed or self.cleared)


@dataclass
class Told:
    """What the ledger says leaders were told in one window."""

    window_ref: str | None = None
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)  # this episode
    episodes: dict[tuple[str, str], int] = field(default_factory=dict)  # clears so far
    ever: set[tuple[str, str]] = field(default_factory=set)  # alerted at any time


@dataclass(frozen=True)
class AlertReport:
    posted: bool = False
    updated: bool = False
    follow_ups: int = 0
    plan: Plan = Plan()
    waiting: bool = False  # exceptions exist but the window is not ready yet


class Sender(Protocol):
    def post(self, summary: Summary) -> str:
        """Post the window's summary; returns a reference to update it by."""

    def update(self, ref: str, summary: Summary) -> None:
        """Replace the posted summary with this one."""

    def follow_up(self, ref: str, summary: Summary, plan: Plan) -> str:
        """Tell leaders about new and cleared exceptions (an update notifies nobody)."""


# -- stages -----------------------------------------------------------------------------------


def target_of(row: Mapping[str, Any]) -> str:
    if row.get("target_display"):
        return row["target_display"]
    return format_value(row["target"], row["unit"]) if "target" in row and "unit" in row else ""


def group(rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """One alert per measure and period, its reasons merged and in order of seriousness.

    A row is a status row (``id``, ``period``, ``status``, ``display_value``, ...), optionally
    with the digest's ``exception_reasons``; without them the status says it (red, missing).
    """
    merged: dict[tuple[str, str], Alert] = {}
    for row in rows:
        if row.get("status") in SILENT_STATUSES:
            continue
        reasons = tuple(row.get("exception_reasons") or ())
        if not reasons and row.get("status") in ("red", "missing"):
            reasons = (row["status"],)
        if not reasons:
            continue
        alert = Alert(
            measure_id=row["id"],
            period=str(row["period"]),
            reasons=reasons,
            name=row.get("name") or "",
            status=row.get("status") or "",
            display_value=row.get("display_value") or "",
            target_display=target_of(row),
            commentary=row.get("commentary") or "",
            owner=row.get("owner_name") or row.get("owner_email") or "",
        )
        earlier = merged.get(alert.key)
        if earlier is not None:
            alert = replace(earlier, reasons=(*earlier.reasons, *alert.reasons))
        merged[alert.key] = replace(alert, reasons=ordered(alert.reasons))
    return sorted(merged.values(), key=rank)


def inhibit(alerts: Iterable[Alert]) -> list[Alert]:
    """A missing figure mutes the measure's other reasons: leaders hear once that it is missing."""
    return [replace(a, reasons=("missing",)) if "missing" in a.reasons else a for a in alerts]


def silence(alerts: Iterable[Alert], rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """A measure silenced by a coordinator (its row's ``silence`` gives the reason) raises no
    alert while the silence lasts; the pack still shows it, with the reason.

    >>> rows = [{"id": "OD-03", "period": "2026-10", "status": "missing", "silence": "new system"}]
    >>> silence(group(rows), rows)
    []
    """
    silenced = {(r["id"], str(r["period"])) for r in rows if r.get("silence")}
    return [a for a in alerts if a.key not in silenced]


def read_told(store: Store, cycle: str, ledger: str = "") -> Told:
    """Rebuild what was told in a window from the ledger (the only memory between runs);
    `ledger` prefixes the kinds, one lifecycle per transport ("slack-", "email-")."""
    told = Told()
    alerts: list[tuple[tuple[str, str], int, str]] = []
    for row in store.ledger_for_cycle(cycle):
        kind = row["kind"].removeprefix(ledger) if row["kind"].startswith(ledger) else ""
        if kind == WINDOW:
            told.window_ref = row["transport_ref"]
        elif kind == CLEAR:
            _, measure_id, period, _episode = row["key"].split(":")
            told.episodes[measure_id, period] = told.episodes.get((measure_id, period), 0) + 1
        elif kind == ALERT:
            _, measure_id, period, episode, fingerprint = row["key"].split(":")
            alerts.append(((measure_id, period), int(episode), fingerprint))
    for key, episode, fingerprint in alerts:  # in ledger order, so the latest wins
        told.ever.add(key)
        if episode == told.episodes.get(key, 0):
            told.fingerprints[key] = fingerprint
    return told


def dedup(
    alerts: Iterable[Alert], told: Told, cleared_now: Mapping[tuple[str, str], Alert]
) -> Plan:
    """Compare what fires now with what was told; `cleared_now` holds the current figures of
    measures that are not firing (to show them in a follow-up)."""
    firing = {a.key: a for a in alerts}
    new = tuple(a for k, a in firing.items() if k not in told.fingerprints)
    changed = tuple(
        a
        for k, a in firing.items()
        if k in told.fingerprints and told.fingerprints[k] != a.fingerprint
    )
    cleared = tuple(
        cleared_now.get(k) or Alert(k[0], k[1], ())
        for k in sorted(told.fingerprints)
        if k not in firing
    )
    return Plan(new=new, changed=changed, cleared=cleared)


def deliver(
    send: Callable[[], T],
    *,
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `send`, trying a transient failure again after 2 s, 4 s, ...; others raise at once."""
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except DeliveryError as exc:
            if not exc.transient or attempt == attempts:
                raise
            sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


# -- the pipeline ------------------------------------------------------------------------------


class AlertPipeline:
    """Runs the stages for one window at a time; a lock keeps two runs from both posting."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        attempts: int = 3,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        ledger: str = "",
        follow_up_changes: bool = False,
    ) -> None:
        self.store = store
        self.sender = sender
        self.ledger = ledger  # prefix of this lifecycle's ledger kinds: one per transport
        # A message that cannot be edited (email) tells a changed value in a follow-up too.
        self.follow_up_changes = follow_up_changes
        self.retry = {"attempts": attempts, "backoff": backoff, "sleep": sleep}
        self.lock = threading.Lock()

    def run(
        self,
        cycle: str,
        cycle_label: str,
        rows: list[Mapping[str, Any]],
        *,
        ready: bool,
        now: datetime,
    ) -> AlertReport:
        """Bring the window's message up to date with `rows` (every measure of the cycle).

        `ready`: the window has closed or every figure is in; before that nothing is posted.
        Each ledger row is written only after what it records was delivered, so a failure is
        tried again on the next run and nothing is recorded that leaders did not see.
        """
        firing = silence(inhibit(group(rows)), rows)
        with self.lock:
            told = read_told(self.store, cycle, self.ledger)
            current = {(r["id"], str(r["period"])): r for r in rows}
            cleared_now = {k: cleared_alert(current[k]) for k in told.ever if k in current}
            plan = dedup(firing, told, cleared_now)
            cleared = tuple(
                cleared_now.get(k) or Alert(k[0], k[1], ())
                for k in sorted(told.ever - {a.key for a in firing})
            )
            summary = Summary(cycle, cycle_label, tuple(firing), cleared, now)
            if told.window_ref is None:
                return self.open_window(summary, plan, told, ready, now)
            return self.update_window(told.window_ref, summary, plan, told, now)

    def open_window(
        self, summary: Summary, plan: Plan, told: Told, ready: bool, now: datetime
    ) -> AlertReport:
        """The first message of the window, once it is ready and there is something to say."""
        if not summary.firing:
            return AlertReport(plan=plan)
        if not ready:
            return AlertReport(plan=plan, waiting=True)
        ref = deliver(lambda: self.sender.post(summary), **self.retry)
        self.store.ledger_add(self.ledger + WINDOW, summary.cycle, now, ref, summary.cycle)
        self.record(summary.cycle, told, summary.firing, (), ref, now)
        return AlertReport(posted=True, plan=plan)

    def adopt(self, ref: str, cycle: str, rows: list[Mapping[str, Any]], now: datetime) -> bool:
        """Open the window on a message sent another way (the summary email, composed from
        these same `rows`): what it showed is what leaders were told. False if already open."""
        firing = silence(inhibit(group(rows)), rows)
        with self.lock:
            told = read_told(self.store, cycle, self.ledger)
            if told.window_ref is not None:
                return False
            with self.store.atomic():
                self.store.ledger_add(self.ledger + WINDOW, cycle, now, ref, cycle)
                self.record(cycle, told, firing, (), ref, now)
        return True

    def update_window(
        self, ref: str, summary: Summary, plan: Plan, told: Told, now: datetime
    ) -> AlertReport:
        """Edit the window's message in place; new and cleared exceptions also get a follow-up
        (an edit notifies nobody)."""
        if plan.empty:
            return AlertReport(plan=plan)
        deliver(lambda: self.sender.update(ref, summary), **self.retry)
        follow_ups = 0
        if plan.new or plan.cleared or (plan.changed and self.follow_up_changes):
            deliver(lambda: self.sender.follow_up(ref, summary, plan), **self.retry)
            follow_ups = 1
        self.record(summary.cycle, told, (*plan.new, *plan.changed), plan.cleared, ref, now)
        return AlertReport(updated=True, follow_ups=follow_ups, plan=plan)

    def record(
        self,
        cycle: str,
        told: Told,
        alerts: Iterable[Alert],
        cleared: Iterable[Alert],
        ref: str,
        now: datetime,
    ) -> None:
        with self.store.atomic():
            for alert in alerts:
                episode = told.episodes.get(alert.key, 0)
                key = f"{cycle}:{alert.measure_id}:{alert.period}:{episode}:{alert.fingerprint}"
                self.store.ledger_add(self.ledger + ALERT, key, now, ref, cycle)
            for alert in cleared:
                episode = told.episodes.get(alert.key, 0)
                key = f"{cycle}:{alert.measure_id}:{alert.period}:{episode}"
                self.store.ledger_add(self.ledger + CLEAR, key, now, ref, cycle)


# -- helpers ----------------------------------------------------------------------------------


def ordered(reasons: Iterable[str]) -> tuple[str, ...]:
    unique = dict.fromkeys(reasons)
    return tuple(sorted(unique, key=lambda r: REASONS.index(r) if r in REASONS else len(REASONS)))


def rank(alert: Alert) -> tuple[int, str, str]:
    first = alert.reasons[0] if alert.reasons else ""
    return (
        REASONS.index(first) if first in REASONS else len(REASONS),
        alert.measure_id,
        alert.period,
    )


def cleared_alert(row: Mapping[str, Any]) -> Alert:
    """A measure that was an exception and is not now, with its current figure."""
    return Alert(
        measure_id=row["id"],
        period=str(row["period"]),
        reasons=(),
        name=row.get("name") or "",
        status=row.get("status") or "",
        display_value=row.get("display_value") or "",
        target_display=target_of(row),
        commentary=row.get("commentary") or "",
        owner=row.get("owner_name") or row.get("owner_email") or "",
    )
