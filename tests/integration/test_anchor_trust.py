"""Audit anchors a database writer cannot stop or make look fresh (issue 17.7)."""

import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from tests.integration.test_audit_chain import truncate_tail
from verify_service.adapters.sql.tables import audit_anchors, audit_events, outbox

PERIOD = 10


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def times(path):
    return [datetime.fromisoformat(document["at"].replace("Z", "+00:00")) for document in lines(path)]


def move_schedule_row(harness, **values):
    """What a database writer can do: set the schedule's coordination row to anything."""
    with harness.services.db.engine.begin() as conn:
        conn.execute(harness.services.db.insert_ignore(audit_anchors, name="heads", last_at=None))
        conn.execute(audit_anchors.update().where(audit_anchors.c.name == "heads").values(**values))


def metric(harness, name):
    text = harness.client.get("/metrics").get_data(as_text=True)
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(values[0]) if values else None


@pytest.fixture
def anchored(make_harness, mode, tmp_path):
    path = tmp_path / "anchors.jsonl"
    return make_harness(mode, audit_anchor_file=str(path), audit_anchor_seconds=PERIOD), path


def test_a_database_writer_touching_the_schedule_row_cannot_stop_the_anchors(anchored):
    harness, path = anchored
    harness.register("A1")
    assert harness.services.anchors.run_if_due() is not None
    for _ in range(9):  # 45 s: the row is set to "just anchored" every 5 s, the worker looks every second
        move_schedule_row(harness, last_at=harness.clock.now())
        for _ in range(5):
            harness.clock.advance(1)
            harness.services.anchors.run_if_due()
    written = times(path)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(written, written[1:], strict=False)]
    assert len(written) >= 4 and max(gaps) <= 1.5 * PERIOD
    assert (harness.clock.now() - written[-1]).total_seconds() <= 1.5 * PERIOD


def test_a_suppression_attempt_still_lets_verify_see_the_removed_events(anchored):
    harness, path = anchored
    harness.register("B2")
    harness.services.anchors.run_if_due()
    harness.register("A1")  # after the first anchor: only a later one covers it
    with harness.services.db.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).where(audit_events.c.chain == "A1")).scalar_one()
    for _ in range(4):
        move_schedule_row(harness, last_at=harness.clock.now())
        harness.clock.advance(5)
        harness.services.anchors.run_if_due()
    truncate_tail(harness, "A1", keep=1)
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and f"chain A1: anchored event #{count} is gone" in result.output


def test_the_anchor_age_comes_from_the_file_not_from_the_database_row(anchored):
    harness, path = anchored
    harness.services.anchors.run_if_due()
    harness.clock.advance(25)
    move_schedule_row(harness, last_at=harness.clock.now())  # claims an anchor was just taken
    assert metric(harness, "verify_audit_anchor_age_seconds") == 25.0
    path.write_text(path.read_text().replace('"at":"', '"at":"2099'))  # a line that is not signed so
    assert metric(harness, "verify_audit_anchor_age_seconds") is None


def test_a_schedule_row_moved_back_does_not_flood_the_anchor_file(make_harness, mode, tmp_path):
    path = tmp_path / "anchors.jsonl"
    instances = [make_harness(mode, clean=index == 0, audit_anchor_file=str(path), audit_anchor_seconds=PERIOD)
                 for index in range(3)]
    instances[0].services.anchors.run_if_due()
    for instance in instances[1:]:  # the row says "never anchored" before each instance looks
        instance.clock.current = instances[0].clock.current
        move_schedule_row(instance, last_at=None)
        assert instance.services.anchors.run_if_due() is None
    assert len(lines(path)) == 1


def test_verify_fails_when_the_newest_anchor_is_older_than_two_periods(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.services.anchors.run_if_due()
    harness.clock.advance(2 * PERIOD)
    assert run(harness, "audit", "verify").exit_code == 0  # two periods: still fine
    harness.clock.advance(1)
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1
    assert f"more than two periods ({2 * PERIOD} s)" in result.output and "--allow-stale-anchor" in result.output


def test_a_stale_anchor_can_be_accepted_knowingly(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.services.anchors.run_if_due()
    harness.clock.advance(10 * PERIOD)
    result = run(harness, "audit", "verify", "--allow-stale-anchor")
    assert result.exit_code == 0
    assert "WARNING: the newest anchor was written" in result.output and "audit trail intact" in result.output


def test_a_configured_anchor_file_without_a_scheduled_anchor_fails_verify(anchored):
    harness, path = anchored
    path.write_text("")
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "no scheduled anchor was written" in result.output


def test_an_exported_anchor_is_not_held_to_the_schedule(anchored, tmp_path):
    harness, path = anchored
    harness.register("A1")
    exported = tmp_path / "exported.json"
    assert run(harness, "audit", "anchor", "--out", str(exported)).exit_code == 0
    harness.clock.advance(100 * PERIOD)
    assert run(harness, "audit", "verify", "--anchor", str(exported)).exit_code == 0


# --- the events webhook ------------------------------------------------------------------------------------------

@pytest.fixture
def webhook_anchored(make_harness, mode, gateway):
    return make_harness(mode, events_webhook_url=gateway.url + "/events", audit_anchor_seconds=PERIOD,
                        events_webhook_secret="events-secret-for-tests-000000000", audit_anchor_webhook=True)


def deliver(harness):
    while harness.services.outbox.dispatch_due():
        pass


def test_the_webhook_anchor_age_counts_only_anchors_the_webhook_accepted(webhook_anchored):
    harness = webhook_anchored
    assert harness.services.anchors.run_if_due() is not None
    harness.clock.advance(3)
    assert metric(harness, "verify_audit_anchor_age_seconds") is None  # queued, not delivered yet
    deliver(harness)
    assert metric(harness, "verify_audit_anchor_age_seconds") == 3.0


def test_a_forged_delivery_receipt_does_not_make_the_webhook_anchors_look_fresh(webhook_anchored):
    harness = webhook_anchored
    harness.services.anchors.run_if_due()
    deliver(harness)
    harness.clock.advance(100)
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_anchors.update().where(audit_anchors.c.name == "delivered")
                     .values(last_at=harness.clock.now()))
    assert metric(harness, "verify_audit_anchor_age_seconds") is None


def test_a_database_writer_touching_the_schedule_row_cannot_stop_webhook_anchors(webhook_anchored, gateway):
    harness = webhook_anchored
    harness.services.anchors.run_if_due()
    for _ in range(6):  # 30 s
        move_schedule_row(harness, last_at=harness.clock.now())
        for _ in range(5):
            harness.clock.advance(1)
            harness.services.anchors.run_if_due()
            deliver(harness)
    assert len([body for body in gateway.bodies() if body["event"] == "audit_anchor"]) >= 3
    assert metric(harness, "verify_audit_anchor_age_seconds") <= 1.5 * PERIOD


def test_an_anchor_deleted_from_the_outbox_is_covered_by_the_next_one(webhook_anchored, gateway, tmp_path):
    harness = webhook_anchored
    harness.services.anchors.run_if_due()
    deliver(harness)
    harness.clock.advance(30)
    harness.register("A1")  # more than the lookback (a minute) before the anchor that will go missing
    harness.clock.advance(70)
    assert "A1" in harness.services.anchors.run_if_due()["heads"]
    with harness.services.db.engine.begin() as conn:  # a database writer drops the queued anchor
        conn.execute(outbox.delete())
    harness.clock.advance(100)
    harness.services.anchors.run_if_due()
    deliver(harness)
    received = tmp_path / "received.jsonl"
    received.write_text("".join(json.dumps(body) + "\n" for body in gateway.bodies()
                                if body["event"] == "audit_anchor"))
    truncate_tail(harness, "A1", keep=1)
    result = run(harness, "audit", "verify", "--anchor", str(received), "--allow-stale-anchor")
    assert result.exit_code == 1 and "chain A1: anchored event #" in result.output
