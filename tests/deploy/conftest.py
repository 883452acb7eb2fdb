"""The real gunicorn (gunicorn.conf.py, two workers) on a migrated SQLite database, via the black-box helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.blackbox.conftest import Gunicorn, Service, base_env, create_keys, run_cli


@dataclass
class Deployment:
    """The service's environment (a fresh migrated SQLite database) and one API key per role."""

    env: dict[str, str]
    keys: dict[str, str]

    def client(self, port: int) -> Service:
        """The black-box HTTP client, talking to this port with these keys."""
        return Service(mode="sqlite", port=port, env=self.env, keys=dict(self.keys))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """One database and key set per test module."""
    workdir = tmp_path_factory.mktemp("deploy")
    env = base_env(f"sqlite:///{workdir / 'deploy.sqlite3'}", None)
    run_cli(env, "db", "upgrade")
    suffix = uuid.uuid4().hex[:8]
    names = {"agent": f"deploy-agent-{suffix}", "portal": f"deploy-portal-{suffix}"}
    by_name = create_keys(env, {names["agent"]: ["agent"], names["portal"]: ["portal"]})
    return Deployment(env, {role: by_name[name] for role, name in names.items()})


@pytest.fixture
def start_gunicorn(deployment: Deployment, tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Starts gunicorn with extra environment variables and waits for /healthz; stops it after the test."""
    started: list[Gunicorn] = []

    def start(**extra_env: str) -> Gunicorn:
        server = Gunicorn({**deployment.env, **extra_env}, tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        server.wait_healthy()
        return server

    yield start
    for server in started:
        server.stop()
