"""Migration 0012: checks stored before it were typed by agents (`entry` agent, no call_ref) and read back so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


@pytest.fixture
def app(unmigrated_app):
    return unmigrated_app


def test_checks_stored_before_the_upgrade_are_agent_entry(app):
    services = app.extensions["verify"]
    with app.app_context():
        upgrade(revision="0012_agent_binding")
        with services.db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO verifications (id, account_id, verified, result, factor_pin, factor_code, level, "
                "attempts_remaining, checked_at, channel, agent_id, actor) VALUES ('ver_old', 'JP1001', :yes, "
                "'verified', 'match', 'not_checked', 1, 5, :at, 'phone', 'agent-42', 'desk')"),
                {"yes": True, "at": NOW})
        upgrade()
        old = services.checks.get("ver_old")
        assert (old.entry, old.call_ref) == ("agent", None)
        with services.db.engine.connect() as conn:
            indexes = {index["name"] for index in sa.inspect(conn).get_indexes("verifications")}
        assert "ix_verifications_call_ref" in indexes
        downgrade(revision="0012_agent_binding")
        with services.db.engine.connect() as conn:
            columns = {column["name"] for column in sa.inspect(conn).get_columns("verifications")}
        assert not {"entry", "call_ref"} & columns
