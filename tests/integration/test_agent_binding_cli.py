"""`keys create --agent-ids PATTERN` and `agents name ... --key KEY`: binding agent ids to credentials (issue 17)."""

import pytest


def run(harness, *args):
    return harness.app.test_cli_runner().invoke(args=list(args))


def check(harness, secret, agent_id):
    body = {"account_id": "JP1001", "channel": "phone", "agent_id": agent_id, "pin": "000001"}
    return harness.client.post("/v1/verifications", json=body, headers={"Authorization": f"Bearer {secret}"})


def test_keys_create_with_agent_ids_restricts_the_key_and_lists_its_patterns(make_harness):
    harness = make_harness("sqlite")
    harness.register()
    result = run(harness, "keys", "create", "--name", "desk1", "--role", "agent", "--agent-ids", "desk1-*",
                 "--agent-ids", "lead-?")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("vk_") and "desk1-*" in result.output
    assert [check(harness, secret, agent).status_code for agent in ("desk1-a", "lead-1", "lead-12", "agent-42")] \
        == [200, 200, 403, 403]
    run(harness, "keys", "create", "--name", "open", "--role", "agent")
    listing = {line.split("\t")[0]: line.split("\t") for line in run(harness, "keys", "list").output.splitlines()}
    assert listing["desk1"][-1] == "desk1-*,lead-?" and listing["open"][-1] == "any-agent-id"


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "agent", "--agent-ids", "desk[1]-*"], "agent_ids"),
    (["--role", "agent", "--agent-ids", "a,b"], "agent_ids"),
    (["--role", "agent", "--agent-ids", "*"], "matches any agent_id"),
    (["--role", "agent", "--agent-ids", "x" * 65], "agent_ids"),
    (["--role", "portal", "--agent-ids", "desk1-*"], "Only a key with the agent role"),
])
def test_keys_create_refuses_bad_agent_id_patterns(make_harness, args, message):
    harness = make_harness("sqlite")
    result = run(harness, "keys", "create", "--name", "desk1", *args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert "desk1" not in run(harness, "keys", "list").output


@pytest.mark.parametrize("name", ["console", "CLI"])
def test_keys_create_refuses_the_names_the_audit_trail_gives_the_console_and_the_cli(make_harness, name):
    harness = make_harness("sqlite")
    result = run(harness, "keys", "create", "--name", name, "--role", "agent")
    assert result.exit_code == 1 and "reserved" in result.output


def test_agents_name_with_key_ties_the_name_to_those_keys(make_harness):
    harness = make_harness("sqlite")
    harness.register(locale="en")
    tied = run(harness, "keys", "create", "--name", "desk-kato", "--role", "agent").output.strip().splitlines()[-1]
    result = run(harness, "agents", "name", "agent-42", "Kato", "--key", "desk-kato")
    assert result.exit_code == 0 and "desk-kato" in result.output
    assert run(harness, "agents", "names").output.split("\t")[-1].strip() == "desk-kato"
    body = {"agent_id": "agent-42", "channel": "phone", "ticket_ref": "T-1"}
    own = harness.client.post("/v1/customers/JP1001/contacts", json=body,
                              headers={"Authorization": f"Bearer {tied}"}).get_json()
    other = harness.call("POST", "/v1/customers/JP1001/contacts", "agent", {**body, "ticket_ref": "T-2"}).get_json()
    assert own["display_name"] == "Kato" and other["display_name"] == "Customer Support"
    event = harness.call("GET", "/v1/audit?event=agent_named", "admin").get_json()["events"][0]
    assert event["details"]["keys"] == ["desk-kato"]


def test_agents_name_refuses_a_key_that_is_unknown_revoked_or_not_an_agent_key(make_harness):
    harness = make_harness("sqlite")
    run(harness, "keys", "create", "--name", "gone", "--role", "agent")
    run(harness, "keys", "revoke", "gone")
    run(harness, "keys", "create", "--name", "site", "--role", "portal")
    for key in ("nope", "gone", "site"):
        result = run(harness, "agents", "name", "agent-42", "Kato", "--key", key)
        assert result.exit_code == 1 and f"No live agent key named '{key}'" in result.output
    assert run(harness, "agents", "names").output == ""
