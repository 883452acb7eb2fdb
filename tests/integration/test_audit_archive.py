"""Audit archive with checkpoints (issue 20.2): archive, then delete, and every chain keeps verifying."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from verify_service.adapters.archive_files import SegmentFiles
from verify_service.adapters.sql.archive import SqlArchiveLedger
from verify_service.adapters.sql.tables import audit_cuts, audit_events, audit_segments

DAY = 86400


@pytest.fixture
def archived(make_harness, mode, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    return make_harness(mode, audit_archive_dir=str(folder)), folder


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def count(harness, table=audit_events, **where):
    with harness.services.db.engine.connect() as conn:
        select = sa.select(sa.func.count()).select_from(table)
        for name, value in where.items():
            select = select.where(table.c[name] == value)
        return conn.execute(select).scalar_one()


def segments(folder):
    return sorted(folder.glob("audit-*.jsonl"))


def history(harness, months=3):
    """Customers registered a month apart, then checks today: old events in several months, new ones now."""
    pins = {}
    for number in range(months):
        pins[f"A{number}"] = harness.register(f"A{number}", phone=f"+8190123456{70 + number}")
        harness.clock.advance(31 * DAY)
    for account_id, pin in pins.items():
        assert harness.check(account_id, pin=pin).status_code == 200
    return pins


def archive(harness, *extra):
    result = run(harness, "audit", "archive", "--older-than", "20", *extra)
    assert result.exit_code == 0, result.output
    return result


def verify(harness, *extra):
    return run(harness, "audit", "verify", "--no-anchor", *extra)


def test_archiving_old_events_removes_them_and_the_trail_still_verifies(archived):
    harness, folder = archived
    history(harness)
    before = count(harness)
    result = archive(harness)
    left = count(harness)
    assert 0 < left < before
    assert f"archived and deleted {before - left} audit event(s)" in result.output
    assert len(segments(folder)) == 3  # one segment per month
    plain = verify(harness)
    assert plain.exit_code == 0, plain.output
    assert "3 chain(s) continue from an archive checkpoint" in plain.output
    full = verify(harness, "--archive", str(folder))
    assert full.exit_code == 0, full.output
    assert f"{before - left} archived event(s) checked" in full.output


def test_a_broken_chain_is_not_archived_and_nothing_is_deleted(archived):
    harness, folder = archived
    history(harness, months=2)
    before = count(harness)
    with harness.services.db.engine.begin() as conn:
        first = conn.execute(sa.select(audit_events.c.id).order_by(audit_events.c.id).limit(1)).scalar_one()
        conn.execute(audit_events.update().where(audit_events.c.id == first).values(ip="198.51.100.7"))
    result = run(harness, "audit", "archive", "--older-than", "20")
    assert result.exit_code == 1 and "The audit trail is not intact" in result.output
    assert count(harness) == before and not segments(folder) and not list(folder.glob(".*.tmp"))


def test_a_dry_run_counts_and_removes_nothing(archived):
    harness, folder = archived
    history(harness, months=2)
    before = count(harness)
    result = archive(harness, "--dry-run")
    assert "would archive and delete" in result.output and " 0 audit" not in result.output
    assert count(harness) == before and not segments(folder)


def test_chains_go_on_after_their_archive_and_archive_again(archived):
    harness, folder = archived
    pins = history(harness, months=2)
    archive(harness)
    harness.clock.advance(40 * DAY)
    for account_id, pin in pins.items():
        assert harness.check(account_id, pin=pin).status_code == 200
    harness.clock.advance(30 * DAY)
    archive(harness)
    assert count(harness) == 0 or count(harness, table=audit_cuts) > 0
    result = verify(harness, "--archive", str(folder))
    assert result.exit_code == 0, result.output


def test_an_altered_archived_event_is_caught(archived):
    harness, folder = archived
    history(harness, months=2)
    archive(harness)
    first = segments(folder)[0]
    lines = first.read_text().splitlines()
    event = json.loads(lines[1])
    event["ip"] = "203.0.113.99"
    lines[1] = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    first.write_text("\n".join(lines) + "\n")
    result = verify(harness, "--archive", str(folder))
    assert result.exit_code == 1
    assert "event was altered" in result.output and "differ from what its checkpoint signed" in result.output


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_missing_segment_is_caught_first_middle_or_newest(archived, which):
    harness, folder = archived
    history(harness)
    archive(harness)
    segments(folder)[which].unlink()
    result = verify(harness, "--archive", str(folder))
    assert result.exit_code == 1 and "is missing" in result.output


def test_an_unsigned_checkpoint_is_caught(archived):
    harness, folder = archived
    history(harness, months=2)
    archive(harness)
    first = segments(folder)[0]
    lines = first.read_text().splitlines()
    trailer = json.loads(lines[-1])
    del trailer["signature"]
    first.write_text("\n".join([*lines[:-1], json.dumps(trailer)]) + "\n")
    result = verify(harness, "--archive", str(folder))
    assert result.exit_code == 1 and "does not end with a signed checkpoint" in result.output


def test_an_altered_checkpoint_head_is_caught(archived):
    harness, folder = archived
    history(harness, months=2)
    archive(harness)
    first = segments(folder)[0]
    lines = first.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith('{"head":'))
    head = json.loads(lines[index])
    head["head"][1] += 1
    lines[index] = json.dumps(head, separators=(",", ":"))
    first.write_text("\n".join(lines) + "\n")
    result = verify(harness, "--archive", str(folder))
    assert result.exit_code == 1 and "checkpoint's head" in result.output


def test_a_cut_moved_in_the_database_to_hide_deleted_events_is_caught(archived):
    harness, _ = archived
    history(harness, months=2)
    archive(harness)
    with harness.services.db.engine.begin() as conn:
        first = conn.execute(sa.select(audit_events).order_by(audit_events.c.id).limit(1)).mappings().one()
        conn.execute(audit_events.delete().where(audit_events.c.id == first["id"]))
        conn.execute(audit_cuts.update().where(audit_cuts.c.chain == first["chain"])
                     .values(seq=first["seq"], hash=first["hash"]))
    result = verify(harness)
    assert result.exit_code == 1 and "archive checkpoint was altered" in result.output


def test_a_deleted_cut_is_caught(archived):
    harness, _ = archived
    history(harness, months=2)
    archive(harness)
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_cuts.delete())
    result = verify(harness)
    assert result.exit_code == 1 and "is missing" in result.output


def test_a_run_stopped_before_deleting_converges_on_the_next(archived, monkeypatch):
    harness, folder = archived
    history(harness, months=2)
    before = count(harness)

    def stop(self, batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(SqlArchiveLedger, "delete_archived", stop)
    with pytest.raises(KeyboardInterrupt):
        harness.services.archive.run(harness.clock.now() - timedelta(days=20), dry_run=False, batch=2)
    monkeypatch.undo()
    assert count(harness) == before and segments(folder)
    assert verify(harness).exit_code == 0
    assert verify(harness, "--archive", str(folder)).exit_code == 0
    with harness.services.db.engine.begin() as conn:  # a delete stopped half-way: the lowest ids went first
        lowest = conn.execute(sa.select(audit_events.c.id).order_by(audit_events.c.id).limit(3)).scalars().all()
        conn.execute(audit_events.delete().where(audit_events.c.id.in_(lowest)))
    half = verify(harness)
    assert half.exit_code == 0, half.output
    archive(harness)
    assert count(harness) < before - 3
    assert verify(harness, "--archive", str(folder)).exit_code == 0
    assert count(harness, table=audit_segments) == len(segments(folder))


def test_a_run_stopped_before_recording_its_segment_writes_it_again(archived, monkeypatch):
    harness, folder = archived
    history(harness, months=1)
    monkeypatch.setattr(SqlArchiveLedger, "record", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        harness.services.archive.run(harness.clock.now() - timedelta(days=20), dry_run=False, batch=100)
    monkeypatch.undo()
    assert len(segments(folder)) == 1 and count(harness, table=audit_segments) == 0
    stopped = verify(harness, "--archive", str(folder))
    assert stopped.exit_code == 0 and "not recorded in the database" in stopped.output
    archive(harness)
    assert len(segments(folder)) == 1 and count(harness, table=audit_segments) == 1
    assert verify(harness, "--archive", str(folder)).exit_code == 0


def test_two_runs_at_once_do_not_both_archive(archived, tmp_path):
    harness, folder = archived
    history(harness, months=1)
    with SegmentFiles(folder).lock() as held:
        assert held
        result = run(harness, "audit", "archive", "--older-than", "20")
    assert result.exit_code == 1 and "Another audit archive run is in progress" in result.output
    token = SqlArchiveLedger(harness.services.db).claim(harness.clock.now(), harness.clock.now() + timedelta(hours=1))
    assert token
    result = run(harness, "audit", "archive", "--older-than", "20")  # another host, another folder lock
    assert result.exit_code == 1 and "in progress" in result.output
    assert not segments(folder) and count(harness, table=audit_segments) == 0


def test_anchors_keep_verifying_chains_that_were_archived(make_harness, mode, tmp_path):
    folder, anchors = tmp_path / "archive", tmp_path / "anchors.jsonl"
    folder.mkdir()
    harness = make_harness(mode, audit_archive_dir=str(folder), audit_anchor_file=str(anchors),
                           audit_anchor_seconds=60)
    pins = history(harness, months=2)
    assert harness.services.anchors.run_if_due() is not None
    archive(harness)
    harness.clock.advance(60)
    assert harness.check("A0", pin=pins["A0"]).status_code == 200
    assert harness.services.anchors.run_if_due() is not None
    result = run(harness, "audit", "verify", "--archive", str(folder))
    assert result.exit_code == 0, result.output


def test_archiving_needs_an_archive_folder(harness):
    result = run(harness, "audit", "archive", "--older-than", "20")
    assert result.exit_code == 1 and "VERIFY_AUDIT_ARCHIVE_DIR is not set" in result.output


def test_archive_takes_one_cutoff(archived):
    harness, _ = archived
    assert run(harness, "audit", "archive").exit_code == 2
    assert run(harness, "audit", "archive", "--before", "2020-01-01", "--older-than", "3").exit_code == 2
