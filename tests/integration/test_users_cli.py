"""`flask users list | disable | enable | reset-password`: console users managed from the CLI, every act audited."""

import pytest

from verify_service.errors import VerifyError

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long password"


def run(harness, *args, input=None):
    return harness.app.test_cli_runner().invoke(args=list(args), input=input)


def audited(harness, event):
    """The system chain's events of one kind (agent_id: the user they are about)."""
    return harness.call("GET", f"/v1/audit?event={event}", "admin").get_json()["events"]


@pytest.fixture
def users(make_harness, mode):
    harness = make_harness(mode)
    harness.services.users.create("yamada", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    return harness


def test_users_list_shows_names_roles_and_state_never_a_hash_and_is_audited(users):
    users.services.users.disable("yamada")
    result = run(users, "users", "list")
    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [(line[0], line[1], line[3].split(" ")[0]) for line in lines] == [("sam", "supervisor", "active"),
                                                                            ("yamada", "agent", "disabled")]
    assert "argon2" not in result.output
    [listed] = audited(users, "console_users_listed")
    assert listed["actor"] == "cli" and listed["details"] == {"count": 2}


def test_a_disabled_user_is_re_enabled_and_signs_in_again_both_audited(users):
    assert run(users, "users", "disable", "yamada").exit_code == 0
    with pytest.raises(VerifyError):
        users.services.users.sign_in("yamada", PASSWORD, "127.0.0.1")
    result = run(users, "users", "enable", "yamada")
    assert result.exit_code == 0 and "enabled console user 'yamada'" in result.output
    assert users.services.users.sign_in("yamada", PASSWORD, "127.0.0.2").username == "yamada"
    assert [e["agent_id"] for e in audited(users, "console_user_disabled")] == ["yamada"]
    assert [(e["agent_id"], e["actor"]) for e in audited(users, "console_user_enabled")] == [("yamada", "cli")]


def test_a_password_reset_sets_the_new_password_ends_sessions_and_is_audited_without_it(users):
    epoch = users.services.users.current("yamada").session_epoch
    result = run(users, "users", "reset-password", "yamada", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0 and "new password set" in result.output
    assert users.services.users.current("yamada").session_epoch > epoch  # open sessions end
    assert users.services.users.sign_in("yamada", NEW_PASSWORD, "127.0.0.1").username == "yamada"
    with pytest.raises(VerifyError):
        users.services.users.sign_in("yamada", PASSWORD, "127.0.0.3")
    [event] = audited(users, "console_password_reset")
    assert event["agent_id"] == "yamada" and NEW_PASSWORD not in str(event)


def test_a_short_password_or_an_unknown_user_is_refused_and_nothing_is_audited(users):
    short = run(users, "users", "reset-password", "yamada", input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    missing = run(users, "users", "enable", "nobody")
    assert missing.exit_code == 1 and "No console user 'nobody'" in missing.output
    assert audited(users, "console_password_reset") == [] and audited(users, "console_user_enabled") == []
