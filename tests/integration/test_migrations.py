"""Migrations: upgrade/downgrade round trip, and the models match the migrated schema."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import make_settings
from verify_service import create_app
from verify_service.adapters.sql.tables import metadata


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_app(request, tmp_path, new_postgres_database):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}" if request.param == "sqlite" else new_postgres_database()
    app = create_app(settings=make_settings(database_url=url))
    yield app
    app.extensions["verify"].close()


def tables(app):
    return set(sa.inspect(app.extensions["verify"].db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_then_downgrade_round_trips(fresh_app):
    with fresh_app.app_context():
        upgrade()
        assert tables(fresh_app) == set(metadata.tables)
        downgrade(revision="base")
        assert tables(fresh_app) == set()
        upgrade()
        assert tables(fresh_app) == set(metadata.tables)


def test_models_match_the_migrated_schema(fresh_app):
    with fresh_app.app_context():
        upgrade()
        with fresh_app.extensions["verify"].db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    import os

    from verify_service.adapters.sql.database import SqlDatabase

    path = tmp_path / "var" / "verify.sqlite3"
    db = SqlDatabase(f"sqlite:///{path}")
    with db.transaction(write=True) as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.commit()
    for name in ("verify.sqlite3", "verify.sqlite3-wal", "verify.sqlite3-shm"):
        assert os.stat(path.parent / name).st_mode & 0o077 == 0, name
    db.dispose()
    path.chmod(0o644)  # an existing file made by an older version is tightened too
    SqlDatabase(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o077 == 0
