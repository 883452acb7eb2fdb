"""Retention: each kind's cutoff from its setting, floors no setting goes under, one turn per period."""

from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from verify_service.config import RETENTION_DEFAULTS, load_settings
from verify_service.domain.retention import RetentionPolicy, RetentionService
from verify_service.errors import ConfigError

DAY = timedelta(days=1)


class RecordingSweep:
    """A sweep that records the cutoffs it was given (and can fail)."""

    def __init__(self, kind, removes=3, fails=False):
        self.kind, self.removes, self.fails, self.calls = kind, removes, fails, []

    def run(self, cutoff, *, dry_run, batch):
        self.calls.append((cutoff, dry_run, batch))
        if self.fails:
            raise RuntimeError("boom")
        return self.removes


class OneTurn:
    """Turns like SqlTurns: taken at most once per period."""

    def __init__(self):
        self.last = None

    def claim(self, name, now, every):
        if self.last is not None and now < self.last + every:
            return False
        self.last = now
        return True


def service(sweeps, keep, floors=None, **kwargs):
    clock = FakeClock()
    return RetentionService(sweeps=sweeps, policy=RetentionPolicy(keep=keep, floors=floors or {}), clock=clock,
                            **kwargs), clock


def test_each_sweep_gets_its_own_cutoff_and_the_report_is_per_kind():
    checks, codes = RecordingSweep("verifications", 7), RecordingSweep("codes", 2)
    retention, clock = service([checks, codes], {"verifications": 400 * DAY, "codes": 30 * DAY})
    reports = retention.run(batch=50)
    assert [(r.kind, r.removed) for r in reports] == [("verifications", 7), ("codes", 2)]
    assert checks.calls == [(clock.now() - 400 * DAY, False, 50)]
    assert codes.calls == [(clock.now() - 30 * DAY, False, 50)]


def test_audit_events_leave_a_calendar_month_at_a_time_and_other_kinds_by_the_second():
    events, checks = RecordingSweep("audit_events"), RecordingSweep("verifications")
    retention, clock = service([events, checks], {"audit_events": 400 * DAY, "verifications": 400 * DAY})
    for _ in range(40):  # every day of a month and more: the audit cutoff moves only on the 1st
        retention.run()
        clock.advance(DAY.total_seconds())
    for (cutoff, _, _), (exact, _, _) in zip(events.calls, checks.calls, strict=True):
        assert (cutoff.day, cutoff.hour, cutoff.minute, cutoff.second, cutoff.microsecond) == (1, 0, 0, 0, 0)
        assert exact - timedelta(days=31) < cutoff <= exact  # at most a month later than the setting says
    assert len({cutoff for cutoff, _, _ in events.calls}) == 2  # 40 daily runs: two months, two segments
    assert len({exact for exact, _, _ in checks.calls}) == 40


def test_a_setting_under_the_floor_is_raised_to_it_whatever_it_says():
    checks = RecordingSweep("verifications")
    retention, clock = service([checks], {"verifications": timedelta(hours=1)}, {"verifications": 3 * DAY})
    retention.run()
    assert checks.calls[0][0] == clock.now() - 3 * DAY


def test_a_kind_kept_forever_is_not_swept_and_a_failing_sweep_does_not_stop_the_others():
    forever, broken, codes = RecordingSweep("anomalies"), RecordingSweep("outbox", fails=True), RecordingSweep("codes")
    retention, _ = service([forever, broken, codes], {"anomalies": None, "outbox": DAY, "codes": DAY})
    reports = {r.kind: r for r in retention.run(dry_run=True)}
    assert forever.calls == [] and reports["anomalies"].cutoff is None
    assert reports["outbox"].error == "RuntimeError" and reports["codes"].removed == 3
    assert codes.calls[0][1] is True  # the dry run reached the sweep


def test_the_scheduled_run_takes_one_turn_per_period_and_looks_again_sparingly():
    turns, sweep = OneTurn(), RecordingSweep("codes")
    retention, clock = service([sweep], {"codes": DAY}, turns=turns, every=timedelta(hours=1))
    assert retention.run_if_due() is not None
    assert retention.run_if_due() is None
    clock.advance(3600)
    assert retention.run_if_due() is not None and len(sweep.calls) == 2


def test_no_schedule_without_a_period():
    retention, _ = service([RecordingSweep("codes")], {"codes": DAY}, turns=OneTurn(), every=None)
    assert retention.run_if_due() is None


def test_retention_settings_parse_durations_and_off():
    settings = load_settings({"VERIFY_RETENTION_CODES": "12d", "VERIFY_RETENTION_OUTBOX": "36h",
                              "VERIFY_RETENTION_ANOMALIES": "off"})
    assert settings.keep("codes") == 12 * DAY and settings.keep("outbox") == timedelta(hours=36)
    assert settings.keep("anomalies") is None
    assert settings.keep("verifications") == RETENTION_DEFAULTS["verifications"] == 400 * DAY


@pytest.mark.parametrize("raw", ["30", "thirty days", "0d", "-5d", "1y"])
def test_a_malformed_retention_setting_is_a_one_line_config_error(raw):
    with pytest.raises(ConfigError) as error:
        load_settings({"VERIFY_RETENTION_CODES": raw})
    assert "VERIFY_RETENTION_CODES" in str(error.value) and "\n" not in str(error.value)


def test_a_check_retention_shorter_than_the_lockout_needs_is_refused_at_startup():
    with pytest.raises(ConfigError) as error:
        load_settings({"VERIFY_RETENTION_VERIFICATIONS": "2d"})
    message = str(error.value)
    assert message.startswith("VERIFY_RETENTION_VERIFICATIONS must be at least 3d") and "\n" not in message
    # The floor follows the lockout settings: a 1 h window and a 1 h lock need a day and 2 hours.
    load_settings({"VERIFY_RETENTION_VERIFICATIONS": "26h", "VERIFY_FAILURE_WINDOW_SECONDS": "3600",
                   "VERIFY_LOCKOUT_SECONDS": "3600"})
    with pytest.raises(ConfigError):
        load_settings({"VERIFY_RETENTION_VERIFICATIONS": "25h", "VERIFY_FAILURE_WINDOW_SECONDS": "3600",
                       "VERIFY_LOCKOUT_SECONDS": "3600"})


def test_every_other_kind_keeps_at_least_a_day():
    with pytest.raises(ConfigError, match="VERIFY_RETENTION_OUTBOX must be at least 1d"):
        load_settings({"VERIFY_RETENTION_OUTBOX": "12h"})
