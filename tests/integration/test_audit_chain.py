"""The audit chain covers event ids (issue 8c) and is anchored on a schedule outside the database (issue 8.9)."""

import json
import threading

import pytest
import sqlalchemy as sa

from verify_service.adapters.delivery.worker import OutboxWorker
from verify_service.adapters.sql.tables import audit_anchors, audit_events, audit_heads
from verify_service.domain.audit import GENESIS_HASH, LEGACY_FORMAT, chain_input
from verify_service.domain.model import AuditEvent

FIELDS = ("event", "at", "account_id", "actor", "agent_id", "channel", "ticket_ref", "ip", "details")


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def rows(harness, **where):
    with harness.services.db.engine.connect() as conn:
        select = sa.select(audit_events).order_by(audit_events.c.chain, audit_events.c.seq)
        for name, value in where.items():
            select = select.where(audit_events.c[name] == value)
        return conn.execute(select).mappings().all()


def set_id(conn, old, new):
    conn.execute(audit_events.update().where(audit_events.c.id == old).values(id=new))


def swap_ids(harness, first, second):
    with harness.services.db.engine.begin() as conn:
        set_id(conn, first, -1)
        set_id(conn, second, first)
        set_id(conn, -1, second)


def rewrite_as_legacy(harness, account_id):
    """What a deployment before migration 0006 wrote: the same chain with HMACs that do not cover the id."""
    signer = harness.services.uow._signer
    prev = GENESIS_HASH
    with harness.services.db.engine.begin() as conn:
        for row in rows(harness, chain=account_id):
            event = AuditEvent(**{name: row[name] for name in FIELDS})
            digest = signer.sign(row["key_id"], chain_input(prev, row["chain"], row["seq"], event))
            conn.execute(audit_events.update().where(audit_events.c.id == row["id"])
                         .values(prev_hash=prev, hash=digest, chain_format=LEGACY_FORMAT))
            prev = digest
        conn.execute(audit_heads.update().where(audit_heads.c.chain == account_id).values(hash=prev))


def truncate_tail(harness, account_id, keep):
    """Remove a chain's newest events and move its head back: the chain that is left verifies on its own."""
    with harness.services.db.engine.begin() as conn:
        kept = conn.execute(sa.select(audit_events.c.hash).where(audit_events.c.chain == account_id,
                                                                 audit_events.c.seq == keep)).scalar_one()
        conn.execute(audit_events.delete().where(audit_events.c.chain == account_id, audit_events.c.seq > keep))
        conn.execute(audit_heads.update().where(audit_heads.c.chain == account_id).values(seq=keep, hash=kept))


# --- 8c: the event id is covered by the chain -------------------------------------------------------------------

def test_new_events_are_chained_with_their_id(harness):
    harness.register("A1")
    found = rows(harness, chain="A1")
    assert found and all(row["chain_format"] == 2 for row in found)
    assert [row["id"] for row in found] == sorted(row["id"] for row in found)
    assert run(harness, "audit", "verify", "--no-anchor").exit_code == 0


def test_swapping_the_ids_of_events_in_two_chains_fails_audit_verify(harness):
    harness.register("A1")
    harness.register("B2")
    first, second = rows(harness, chain="A1")[-1]["id"], rows(harness, chain="B2")[-1]["id"]
    swap_ids(harness, first, second)
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 1
    assert f"(id {second}): event was altered" in result.output and f"(id {first}): event was altered" in result.output


def test_renumbering_one_event_fails_audit_verify(harness):
    harness.register("A1")
    last = rows(harness, chain="A1")[-1]["id"]
    with harness.services.db.engine.begin() as conn:
        set_id(conn, last, last + 1000)
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 1 and f"(id {last + 1000}): event was altered" in result.output


def test_events_from_before_chained_ids_still_verify_and_chains_continue_after_them(harness):
    harness.register("A1")
    rewrite_as_legacy(harness, "A1")
    legacy = len(rows(harness, chain="A1"))
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 0, result.output
    assert f"{legacy} event(s) predate chained event ids" in result.output
    harness.call("POST", "/v1/customers/A1/pin/rotate", "portal")  # a new-format event on the legacy chain
    formats = [row["chain_format"] for row in rows(harness, chain="A1")]
    assert formats[:legacy] == [1] * legacy and set(formats[legacy:]) == {2}
    assert run(harness, "audit", "verify", "--no-anchor").exit_code == 0


def test_reordering_the_ids_of_legacy_events_is_still_caught(harness):
    harness.register("A1")
    rewrite_as_legacy(harness, "A1")
    found = rows(harness, chain="A1")
    swap_ids(harness, found[0]["id"], found[1]["id"])
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 1 and "ids are out of order" in result.output


def test_a_legacy_label_on_a_new_event_does_not_let_its_id_change(harness):
    harness.register("A1")
    last = rows(harness, chain="A1")[-1]["id"]
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.id == last).values(chain_format=LEGACY_FORMAT))
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 1 and "event was altered" in result.output


def test_simultaneous_events_on_one_chain_get_rising_ids(make_harness):
    harness = make_harness("postgres_redis")
    pin = harness.register("A1")
    wrong = "000001" if pin != "000001" else "000002"
    answers = []

    def check():
        for _ in range(3):
            answers.append(harness.check("A1", pin=pin if len(answers) % 2 else wrong).status_code)

    threads = [threading.Thread(target=check) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 36
    found = rows(harness, chain="A1")
    assert [row["id"] for row in found] == sorted(row["id"] for row in found)
    result = run(harness, "audit", "verify", "--no-anchor")
    assert result.exit_code == 0, result.output


# --- 9: anchors on a schedule ------------------------------------------------------------------------------------

@pytest.fixture
def anchored(make_harness, mode, tmp_path):
    path = tmp_path / "anchors.jsonl"
    return make_harness(mode, audit_anchor_file=str(path), audit_anchor_seconds=60), path


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_first_anchor_holds_every_head_and_later_ones_the_chains_that_moved(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.register("B2")
    harness.clock.advance(120)  # A1's events are older than the first anchor's lookback (60 s)
    assert harness.services.anchors.run_if_due()["full"] is True
    harness.clock.advance(30)
    assert harness.services.anchors.run_if_due() is None  # not due yet
    harness.call("POST", "/v1/customers/B2/pin/rotate", "portal")
    harness.clock.advance(31)
    assert harness.services.anchors.run_if_due() is not None
    first, second = lines(path)
    assert set(first["heads"]) == {"A1", "B2"} and first["full"] is True
    assert set(second["heads"]) == {"B2"} and second["full"] is False
    assert second["heads"]["B2"][0] == first["heads"]["B2"][0] + 1
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_scheduled_anchor_catches_the_newest_events_removed(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.services.anchors.run_if_due()
    count = len(rows(harness, chain="A1"))
    harness.clock.advance(61)
    harness.call("POST", "/v1/customers/A1/pin/rotate", "portal")
    harness.services.anchors.run_if_due()
    truncate_tail(harness, "A1", keep=count)
    assert run(harness, "audit", "verify", "--no-anchor").exit_code == 0  # the shortened chain verifies alone
    result = run(harness, "audit", "verify")  # the configured anchor file, by default
    assert result.exit_code == 1
    assert f"chain A1: anchored event #{count + 1} is gone (chain rolled back or deleted)" in result.output


def test_a_scheduled_anchor_catches_a_whole_chain_deleted(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.register("B2")
    harness.services.anchors.run_if_due()
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.chain == "B2"))
        conn.execute(audit_heads.delete().where(audit_heads.c.chain == "B2"))
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "chain B2: anchored event #" in result.output


def test_an_intact_trail_verifies_against_its_anchors(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.services.anchors.run_if_due()
    harness.clock.advance(61)
    harness.register("B2")  # after the newest anchor: not anchored yet, still fine
    result = run(harness, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"checked against 1 anchor(s) in {path}" in result.output


def test_an_altered_anchor_line_is_a_problem(anchored):
    harness, path = anchored
    harness.register("A1")
    harness.services.anchors.run_if_due()
    harness.clock.advance(61)
    harness.call("POST", "/v1/customers/A1/pin/rotate", "portal")
    harness.services.anchors.run_if_due()
    first, second = path.read_text().splitlines()
    doctored = json.loads(second)
    doctored["heads"]["A1"][0] -= 1
    path.write_text(first + "\n" + json.dumps(doctored) + "\n" + "not json\n")
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1
    assert "anchor 2: The anchor's signature does not match" in result.output
    assert "anchor 3: The anchor is not an anchor document" in result.output


def test_a_configured_anchor_file_that_is_missing_stops_verify(anchored):
    harness, path = anchored
    harness.register("A1")
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "does not exist" in result.output and "--no-anchor" in result.output
    assert run(harness, "audit", "verify", "--no-anchor").exit_code == 0


def test_verify_without_any_anchor_says_what_it_cannot_see(harness):
    harness.register("A1")
    result = run(harness, "audit", "verify")
    assert result.exit_code == 0 and "no anchor: removing the newest events" in result.output


def test_one_instance_writes_each_scheduled_anchor(make_harness, tmp_path):
    path = tmp_path / "anchors.jsonl"
    first = make_harness("postgres_redis", audit_anchor_file=str(path), audit_anchor_seconds=60)
    second = make_harness("postgres_redis", clean=False, audit_anchor_file=str(path), audit_anchor_seconds=60)
    second.clock.current = first.clock.current
    first.register("A1")
    results = [first.services.anchors.run_if_due(), second.services.anchors.run_if_due()]
    assert sum(result is not None for result in results) == 1
    for clock in (first.clock, second.clock):
        clock.advance(61)
    results = [second.services.anchors.run_if_due(), first.services.anchors.run_if_due()]
    assert results[0] is not None and results[1] is None
    assert len(lines(path)) == 2


def test_an_anchor_time_set_far_ahead_does_not_stop_the_schedule(anchored):
    harness, path = anchored
    harness.register("A1")
    with harness.services.db.engine.begin() as conn:
        conn.execute(harness.services.db.insert_ignore(audit_anchors, name="heads", last_at=None))
        conn.execute(audit_anchors.update().values(last_at=harness.clock.now().replace(year=2099)))
    document = harness.services.anchors.run_if_due()
    assert document is not None and "A1" in document["heads"]


def test_anchors_go_to_the_events_webhook(make_harness, mode, gateway, tmp_path):
    harness = make_harness(mode, events_webhook_url=gateway.url + "/events",
                           events_webhook_secret="events-secret-for-tests-000000000", audit_anchor_webhook=True)
    harness.register("A1")
    harness.services.anchors.run_if_due()
    while harness.services.outbox.dispatch_due():
        pass
    anchors = [body for body in gateway.bodies() if body["event"] == "audit_anchor"]
    assert len(anchors) == 1 and anchors[0]["account_id"] is None
    assert anchors[0]["details"]["heads"]["A1"][0] == len(rows(harness, chain="A1"))
    # What the receiver kept is an anchor file as it is.
    kept = tmp_path / "received.jsonl"
    kept.write_text("".join(json.dumps(body) + "\n" for body in anchors))
    truncate_tail(harness, "A1", keep=1)
    result = run(harness, "audit", "verify", "--anchor", str(kept))
    assert result.exit_code == 1 and "chain A1: anchored event #" in result.output


def test_the_outbox_worker_writes_anchors_on_its_own(make_harness, tmp_path):
    path = tmp_path / "anchors.jsonl"
    harness = make_harness("sqlite", audit_anchor_file=str(path), audit_anchor_seconds=60)
    harness.register("A1")
    worker = OutboxWorker(harness.services.outbox, interval=0.02, anchors=harness.services.anchors)
    worker.ensure_running()
    try:
        for _ in range(200):
            if path.exists() and path.read_text():
                break
            threading.Event().wait(0.02)
        harness.clock.advance(61)
        for _ in range(200):
            if len(path.read_text().splitlines()) == 2:
                break
            threading.Event().wait(0.02)
    finally:
        worker.stop()
    assert len(lines(path)) == 2


def test_anchoring_is_off_without_a_destination(harness):
    harness.register("A1")
    assert harness.services.anchors.run_if_due() is None
