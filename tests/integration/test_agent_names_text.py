"""`agents name` holds display names to the free-text rule: no line or paragraph separator, format or control
character reaches a customer's page."""

import pytest

from tests.integration.test_agents_cli import run


@pytest.mark.parametrize("name", ["Ka\u2028to", "Kato\u2029Suzuki", "Ka\x85to", "Ka\u200bto", "\u202eotaK",
                                  "Kato\U000e0041"])
def test_a_display_name_with_a_separator_format_or_control_character_is_refused(make_harness, name):
    harness = make_harness("sqlite")
    result = run(harness, "agents", "name", "agent-1", name)
    assert result.exit_code != 0 and "display_name" in result.output and "printable characters" in result.output
    assert run(harness, "agents", "names").output == ""


@pytest.mark.parametrize("agent_id", ["agent\u20281", "agent\u2029"])
def test_an_agent_id_with_a_separator_is_refused(make_harness, agent_id):
    harness = make_harness("sqlite")
    result = run(harness, "agents", "name", agent_id, "Kato")
    assert result.exit_code != 0 and "agent_id" in result.output
    assert run(harness, "agents", "names").output == ""


def test_surrounding_separators_are_trimmed_like_spaces(make_harness):
    harness = make_harness("sqlite")
    assert run(harness, "agents", "name", "agent-1", "\u2028 Kato \u2029").exit_code == 0
    assert run(harness, "agents", "names").output.split("\t")[:2] == ["agent-1", "Kato"]
