"""Retention as deployed: audit events retire only through the signed archive, entry links are swept and erased."""

import sqlalchemy as sa

from verify_service.adapters.sql.tables import audit_events, entry_links

DAY = 86400
PUBLIC = "https://verify.example.com"
LINK = {"agent_id": "agent-42", "channel": "chat", "ticket_ref": "T-1"}


def count(h, table):
    with h.services.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def verify(h, *extra):
    return h.app.test_cli_runner().invoke(args=["audit", "verify", "--no-anchor", *extra])


def test_retention_archives_old_audit_events_before_removing_them_and_the_trail_verifies(make_harness, mode,
                                                                                       tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    h = make_harness(mode, audit_archive_dir=str(folder), entry_link_public_url=PUBLIC)
    pin = h.register("JP1001")
    h.check("JP1001", pin=pin)
    h.clock.advance(401 * DAY + 31 * DAY)  # audit events leave a calendar month at a time: up to a month later
    h.check("JP1001", pin=pin)  # a new event on the same chain, inside the retention period
    before = count(h, audit_events)
    reports = {r.kind: r for r in h.services.retention.run()}
    assert reports["audit_events"].removed >= 2 and reports["audit_events"].error is None
    assert count(h, audit_events) == before - reports["audit_events"].removed
    assert list(folder.glob("audit-*.jsonl"))  # written (and signed) before anything left the database
    assert verify(h).exit_code == 0
    assert verify(h, "--archive", str(folder)).exit_code == 0


def test_without_an_archive_folder_audit_events_are_kept_whatever_their_age(make_harness, mode):
    h = make_harness(mode)
    h.check("JP1001", pin=h.register("JP1001"))
    h.clock.advance(800 * DAY)
    before = count(h, audit_events)
    assert "audit_events" not in h.services.retention.kinds
    h.services.retention.run()
    assert count(h, audit_events) == before and verify(h).exit_code == 0


def test_expired_entry_links_are_swept_after_their_setting_and_erased_when_the_account_closes(make_harness, mode):
    h = make_harness(mode, entry_link_public_url=PUBLIC)
    h.register("JP1001")
    h.register("JP2002", phone="+819087654321")
    assert h.call("POST", "/v1/customers/JP1001/entry-links", "agent", LINK).status_code == 201
    h.clock.advance(31 * DAY)
    assert h.call("POST", "/v1/customers/JP2002/entry-links", "agent", LINK).status_code == 201
    reports = {r.kind: r.removed for r in h.services.retention.run()}
    assert reports["entry_links"] == 1 and count(h, entry_links) == 1  # JP2002's link is not 30 days old
    closed = h.call("DELETE", "/v1/customers/JP2002", "admin", {"reason": "the customer asked to leave"})
    assert closed.status_code == 200 and closed.get_json()["erased"]["entry_links"] == 1
    assert count(h, entry_links) == 0
