"""The command line: keys, pins rekey, audit verify."""

import json

import sqlalchemy as sa

from tests.conftest import TEST_PIN_KEYS
from verify_service.adapters.sql.tables import audit_events, audit_heads, customers


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def test_keys_create_prints_the_key_alone_on_the_last_line(make_harness):
    harness = make_harness("sqlite")
    result = run(harness, "keys", "create", "--name", "desk-1", "--role", "agent", "--role", "admin")
    assert result.exit_code == 0
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("vk_") and " " not in secret
    key = harness.services.keys.authenticate(secret)
    assert key.name == "desk-1" and key.roles == ("admin", "agent")


def test_keys_are_stored_only_as_hashes(make_harness):
    harness = make_harness("sqlite")
    secret = run(harness, "keys", "create", "--name", "desk-1", "--role", "agent").output.strip().splitlines()[-1]
    with harness.services.db.engine.connect() as conn:
        dump = str(conn.execute(sa.text("SELECT * FROM api_keys")).all())
    assert secret not in dump and secret[3:] not in dump


def test_keys_list_and_revoke(make_harness):
    harness = make_harness("sqlite")
    run(harness, "keys", "create", "--name", "desk-1", "--role", "agent")
    assert run(harness, "keys", "revoke", "desk-1").exit_code == 0
    listing = run(harness, "keys", "list").output
    assert "desk-1\tagent\t" in listing and "revoked" in listing
    again = run(harness, "keys", "revoke", "desk-1")
    assert again.exit_code == 1 and "No live key" in again.output


def test_keys_create_refuses_duplicates_and_bad_roles(make_harness):
    harness = make_harness("sqlite")
    run(harness, "keys", "create", "--name", "desk-1", "--role", "agent")
    duplicate = run(harness, "keys", "create", "--name", "desk-1", "--role", "agent")
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    bad = run(harness, "keys", "create", "--name", "desk-2", "--role", "root")
    assert bad.exit_code == 2


def test_demo_keys_are_created_once_then_reused(make_harness, tmp_path):
    harness = make_harness("sqlite")
    path = tmp_path / "demo.env"
    first = run(harness, "keys", "demo", "--file", str(path))
    second = run(harness, "keys", "demo", "--file", str(path))
    assert "created demo keys" in first.output and "reusing demo keys" in second.output
    keys = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert set(keys) == {"AGENT_KEY", "PORTAL_KEY", "ADMIN_KEY"}
    assert harness.services.keys.authenticate(keys["ADMIN_KEY"]).roles == ("admin",)


def test_audit_verify_passes_on_an_intact_trail(harness):
    harness.register("A1")
    harness.register("B2")
    result = run(harness, "audit", "verify")
    assert result.exit_code == 0 and "intact: 6 event(s) in 2 chain(s)" in result.output


def test_audit_verify_fails_when_an_event_is_altered(harness):
    harness.register("A1")
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.event == "pin_issued").values(actor="someone-else"))
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "altered" in result.output


def test_audit_verify_fails_when_an_event_is_removed(harness):
    harness.register("A1")
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.event == "pin_issued"))
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "missing" in result.output


def test_audit_verify_fails_when_the_newest_event_is_removed(harness):
    harness.register("A1")
    with harness.services.db.engine.begin() as conn:
        newest = conn.execute(sa.select(sa.func.max(audit_events.c.id))).scalar_one()
        conn.execute(audit_events.delete().where(audit_events.c.id == newest))
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "removed" in result.output


def test_audit_verify_fails_when_a_chain_is_rewritten_without_its_head(harness):
    harness.register("A1")
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_heads.update().values(hash="f" * 64))
    assert run(harness, "audit", "verify").exit_code == 1


def test_rekey_moves_every_pin_to_the_newest_key_without_changing_it(make_harness, mode):
    old = make_harness(mode, pin_keys="k1:test-pin-key-one-000000000000000000000")
    pins = {account: old.register(account) for account in ("A1", "B2", "C3")}
    both = make_harness(mode, clean=False, pin_keys=TEST_PIN_KEYS)
    # During the move the ring holds both keys: every PIN keeps working.
    assert both.check("A1", pin=pins["A1"]).get_json()["result"] == "verified"
    result = run(both, "pins", "rekey", "--batch", "2")
    assert result.exit_code == 0 and "re-sealed 3 PIN(s) under key 'k2'" in result.output
    with both.services.db.engine.connect() as conn:
        assert set(conn.execute(sa.select(customers.c.pin_key_id)).scalars()) == {"k2"}
    new_only = make_harness(mode, clean=False, pin_keys="k2:test-pin-key-two-000000000000000000000")
    for account, pin in pins.items():
        assert new_only.check(account, pin=pin).get_json()["result"] == "verified"
    assert run(both, "pins", "rekey").output.startswith("re-sealed 0 PIN(s)")


def test_a_pin_under_a_key_missing_from_the_ring_fails_closed(make_harness):
    old = make_harness("sqlite", pin_keys="k1:test-pin-key-one-000000000000000000000")
    pin = old.register()
    new_only = make_harness("sqlite", clean=False, pin_keys="k2:test-pin-key-two-000000000000000000000")
    response = new_only.check(pin=pin)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "service_unavailable"


def test_a_unit_of_work_that_is_not_committed_leaves_no_trace(make_harness, mode):
    harness = make_harness(mode)
    harness.register()
    with harness.services.uow(write=True) as uow:
        customer = uow.customers.get("JP1001", for_update=True)
        customer.locale = "en"
        uow.customers.save(customer)
    assert harness.services.customers.get("JP1001").locale == "ja"


def test_audit_verify_catches_a_chain_recomputed_without_the_audit_key(harness):
    from verify_service.adapters.crypto import AuditSigner
    from verify_service.domain.audit import GENESIS_HASH, chain_input
    from verify_service.domain.model import AuditEvent

    harness.register("A1")
    forger = AuditSigner.from_setting("k:attacker-guess-000000000000000000000000")
    with harness.services.db.engine.begin() as conn:
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).mappings().all()
        prev = GENESIS_HASH
        for row in rows:
            event = AuditEvent(**{k: row[k] for k in ("event", "at", "account_id", "actor", "agent_id", "channel",
                                                      "ticket_ref", "ip", "details")})
            if event.event == "customer_registered":
                event = AuditEvent(**{**event.__dict__, "actor": "nobody"})
            digest = forger.sign("k", chain_input(prev, row["chain"], row["seq"], event))
            conn.execute(audit_events.update().where(audit_events.c.id == row["id"])
                         .values(actor=event.actor, prev_hash=prev, hash=digest, key_id=harness.services.uow._signer
                                 .newest_key_id()))
            prev = digest
        conn.execute(audit_heads.update().values(hash=prev))
    result = run(harness, "audit", "verify")
    assert result.exit_code == 1 and "altered" in result.output


def test_audit_verify_names_a_key_missing_from_the_ring(make_harness):
    harness = make_harness("sqlite")
    harness.register("A1")
    other = make_harness("sqlite", clean=False, audit_keys="new:another-audit-key-000000000000000000000")
    result = run(other, "audit", "verify")
    assert result.exit_code == 1 and "not in VERIFY_AUDIT_KEYS" in result.output


def test_users_create_reads_the_password_from_stdin(make_harness):
    harness = make_harness("sqlite")
    result = harness.app.test_cli_runner().invoke(args=["users", "create", "--username", "yamada", "--role",
                                                        "agent"], input="a long enough password\n")
    assert result.exit_code == 0 and "created console user 'yamada' (agent)" in result.output
    assert harness.services.users.sign_in("yamada", "a long enough password", "127.0.0.1").role == "agent"
    short = harness.app.test_cli_runner().invoke(args=["users", "create", "--username", "x", "--role", "agent"],
                                                 input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output


def test_demo_users_are_created_once_and_printed(make_harness, tmp_path):
    harness = make_harness("sqlite")
    path = tmp_path / "users.env"
    first = run(harness, "users", "demo", "--file", str(path))
    second = run(harness, "users", "demo", "--file", str(path))
    assert first.output == second.output and "supervisor: demo-supervisor-" in first.output
    saved = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert harness.services.users.sign_in(saved["AGENT_USER"], saved["AGENT_PASSWORD"], None).role == "agent"


def test_an_anchor_catches_a_chain_deleted_whole_or_rolled_back(harness, tmp_path):
    harness.register("A1")
    harness.register("B2")
    anchor = tmp_path / "anchor.json"
    assert run(harness, "audit", "anchor", "--out", str(anchor)).exit_code == 0
    harness.register("C3")  # chains may grow after the anchor
    assert run(harness, "audit", "verify", "--anchor", str(anchor)).exit_code == 0
    with harness.services.db.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.account_id == "B2"))
        conn.execute(audit_heads.delete().where(audit_heads.c.chain == "B2"))
    assert run(harness, "audit", "verify").exit_code == 0  # without the anchor this goes unseen
    result = run(harness, "audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and "chain B2: anchored event #3 is gone" in result.output


def test_a_tampered_anchor_is_refused(harness, tmp_path):
    harness.register("A1")
    anchor = tmp_path / "anchor.json"
    run(harness, "audit", "anchor", "--out", str(anchor))
    anchor.write_text(anchor.read_text().replace('"A1": [3', '"A1": [2'))
    result = run(harness, "audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and "signature does not match" in result.output


def test_rekey_is_audited_once_with_its_counts(make_harness):
    old = make_harness("sqlite", pin_keys="k1:test-pin-key-one-000000000000000000000")
    old.register("A1")
    both = make_harness("sqlite", clean=False, pin_keys=TEST_PIN_KEYS)
    assert run(both, "pins", "rekey").exit_code == 0
    events = both.call("GET", "/v1/audit?event=pins_rekeyed", "admin").get_json()["events"]
    assert len(events) == 1 and events[0]["actor"] == "cli" and events[0]["account_id"] is None
    assert events[0]["details"] == {"key_id": "k2", "moved": 1, "left": 0}


def test_audit_phone_ref_finds_a_numbers_events_under_every_key(make_harness):
    """An investigator with a caller's number gets the reference its audit events carry, under each key."""
    old = make_harness("sqlite", pin_keys="old:" + "o" * 40)
    old.register("A1", phone="+819012345678")
    harness = make_harness("sqlite", clean=False, pin_keys="new:" + "n" * 40 + ",old:" + "o" * 40)
    harness.register("B2", phone="+819012345678")
    with harness.services.db.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_events.c.account_id, audit_events.c.details)
                            .where(audit_events.c.event == "customer_registered")).all()
    refs = {row.account_id: json.loads(row.details) if isinstance(row.details, str) else row.details for row in rows}
    result = run(harness, "audit", "phone-ref", "+819012345678")
    assert result.exit_code == 0, result.output
    listed = dict(line.split(" ") for line in result.output.strip().splitlines())
    assert list(listed) == ["new", "old"]  # newest key first
    assert listed[refs["A1"]["phone_ref_key"]] == refs["A1"]["phone_ref"]  # registered under the old key
    assert listed[refs["B2"]["phone_ref_key"]] == refs["B2"]["phone_ref"]
    assert "5678" not in result.output
    other = run(harness, "audit", "phone-ref", "+819087654321")
    assert dict(line.split(" ") for line in other.output.strip().splitlines())["new"] != listed["new"]


def test_audit_phone_ref_refuses_a_number_not_in_e164(make_harness):
    harness = make_harness("sqlite")
    for bad in ("09012345678", "+81", "not a number"):
        result = run(harness, "audit", "phone-ref", bad)
        assert result.exit_code == 2 and "E.164" in result.output
