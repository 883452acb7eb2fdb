"""`flask --app wsgi agents name` and `agents names`: display names customers see, audited."""

import pytest


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def test_naming_an_agent_shows_that_name_to_customers(make_harness, mode):
    harness = make_harness(mode)
    result = run(harness, "agents", "name", "agent-42", "Kato")
    assert result.exit_code == 0 and "'Kato'" in result.output
    harness.register(locale="en")
    body = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-1"}
    contact = harness.call("POST", "/v1/customers/JP1001/contacts", "agent", body).get_json()
    assert contact["display_name"] == "Kato"


def test_renaming_is_audited_with_the_previous_name_and_listed(make_harness):
    harness = make_harness("sqlite")
    run(harness, "agents", "name", "alice", "Alice")
    run(harness, "agents", "name", "alice", "  Alice K.  ")
    run(harness, "agents", "name", "bob", "Bob")
    listing = run(harness, "agents", "names").output.splitlines()
    assert [line.split("\t")[:2] for line in listing] == [["alice", "Alice K."], ["bob", "Bob"]]
    events = harness.call("GET", "/v1/audit?event=agent_named", "admin").get_json()["events"]
    assert len(events) == 3 and events[1]["details"] == {"display_name": "Alice K.", "keys": [], "previous": "Alice"}
    assert events[1]["actor"] == "cli" and events[1]["agent_id"] == "alice" and events[1]["account_id"] is None


@pytest.mark.parametrize("agent_id, name", [("agent-1", "   "), ("agent-1", "x" * 65), ("agent-1", "a\u202eb"),
                                            ("x" * 65, "Kato"), ("a\nb", "Kato")])
def test_bad_names_are_refused_with_a_message(make_harness, agent_id, name):
    harness = make_harness("sqlite")
    result = run(harness, "agents", "name", agent_id, name)
    assert result.exit_code == 1 and "printable characters" in result.output
    assert run(harness, "agents", "names").output == ""
