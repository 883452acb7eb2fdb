"""A client generated from the served /openapi.json (openapi-python-client) runs the README walk-through.

The service runs under a real gunicorn on a migrated SQLite database, with keys from the CLI. The client is
generated offline into tmp_path (the generator's post-processing uses the venv's ruff), imported, and used
the way an integrator would: typed request models in, typed response models out.
"""

from __future__ import annotations

import http.client
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.blackbox.conftest import VENV_BIN, Gunicorn, base_env, create_keys, run_cli

pytestmark = pytest.mark.slow

PACKAGE = "verify_service_client"
DEAD_PROXY = "http://127.0.0.1:9"  # anything that tried to reach the network would fail here


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    """gunicorn on a fresh migrated SQLite database, and one key per role (port, keys)."""
    workdir = tmp_path_factory.mktemp("generated-client")
    env = base_env(f"sqlite:///{workdir / 'client.sqlite3'}", None)
    run_cli(env, "db", "upgrade")
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"client-{role}-{suffix}" for role in ("agent", "portal", "admin")}
    by_name = create_keys(env, {name: [role] for role, name in names.items()})
    server = Gunicorn(env, workdir / "gunicorn.log")
    try:
        server.wait_healthy()
        yield server.port, {role: by_name[name] for role, name in names.items()}
    finally:
        server.stop()


def served_document(port: int) -> bytes:
    """GET /openapi.json over HTTP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/openapi.json")
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status == 200 and answer.getheader("Content-Type", "").startswith("application/json")
        return body
    finally:
        conn.close()


def generate(document: bytes, workdir: Path) -> Path:
    """Run openapi-python-client on the document, offline; return the generated project's folder."""
    (workdir / "openapi.json").write_bytes(document)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY, "NO_PROXY": ""}
    result = subprocess.run([str(VENV_BIN / "openapi-python-client"), "generate", "--path", "openapi.json",
                             "--output-path", "client", "--fail-on-warning"],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    return workdir / "client"


@pytest.fixture(scope="module")
def client_package(served: tuple[int, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[ModuleType]:
    """The generated package, importable for this module's tests, forgotten afterwards."""
    project = generate(served_document(served[0]), tmp_path_factory.mktemp("generated"))
    sys.path.insert(0, str(project))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(project))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(name: str) -> Any:
    """A generated operation module, e.g. api("verifications.check")."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def test_every_generated_operation_is_grouped_by_tag_and_every_body_is_a_model(client_package):
    groups = importlib.import_module(f"{PACKAGE}.api")
    modules = {f"{group.name}.{module.name}"
               for group in pkgutil.iter_modules(groups.__path__)
               for module in pkgutil.iter_modules(importlib.import_module(f"{PACKAGE}.api.{group.name}").__path__)}
    assert "default" not in {name.split(".")[0] for name in modules}
    assert {"verifications.check", "customers.put_customer", "pins.view_pin", "audit.list_events",
            "codes.confirm_totp"} <= modules
    bodies = 0
    for name in modules:
        parameters = inspect.signature(api(name).sync_detailed).parameters
        if "body" in parameters:
            bodies += 1
            annotation = parameters["body"].annotation  # an optional body is `Model | Unset`
            kinds = [kind for kind in typing.get_args(annotation) or (annotation,) if kind.__name__ != "Unset"]
            assert len(kinds) == 1 and inspect.isclass(kinds[0]) and hasattr(kinds[0], "from_dict"), (name, annotation)
    assert bodies >= 10
    assert inspect.signature(api("verifications.check").sync).parameters["body"].annotation is models().CheckRequest


def test_the_readme_walk_through_runs_through_the_generated_client(client_package, served):
    port, keys = served
    m = models()
    authenticated = importlib.import_module(f"{PACKAGE}.client").AuthenticatedClient

    def as_role(role: str) -> Any:
        return authenticated(base_url=f"http://127.0.0.1:{port}", token=keys[role], raise_on_unexpected_status=True)

    portal, agent, admin = as_role("portal"), as_role("agent"), as_role("admin")
    # The account portal registers a customer (201; a support PIN is issued).
    registered = api("customers.put_customer").sync_detailed(
        "JP1001", client=portal,
        body=m.CustomerPut(phone="+819012345678", email="a@example.com", locale=m.CustomerPutLocale.JA))
    assert registered.status_code == 201 and isinstance(registered.parsed, m.CustomerSummary)
    assert registered.parsed.phone_masked == "+81 *******678"
    # The customer sees their PIN on their account page (portal key only).
    pin = api("pins.view_pin").sync("JP1001", client=portal)
    assert isinstance(pin, m.Pin) and len(pin.pin) == 6
    # A phone agent checks what the caller reads out: verified, level 1.
    check = api("verifications.check")
    verified = check.sync(client=agent, body=m.CheckRequest(
        account_id="JP1001", pin=pin.pin, channel=m.CheckRequestChannel.PHONE, agent_id="agent-42"))
    assert isinstance(verified, m.Verification)
    assert (verified.result, verified.level, verified.verified) == (m.VerificationResult.VERIFIED, 1, True)
    # A wrong PIN: rejected, 4 attempts remaining.
    wrong = "258147" if pin.pin != "258147" else "369258"
    rejected = check.sync(client=agent, body=m.CheckRequest(
        account_id="JP1001", pin=wrong, channel=m.CheckRequestChannel.PHONE, agent_id="agent-42"))
    assert isinstance(rejected, m.Verification)
    assert (rejected.result, rejected.attempts_remaining) == (m.VerificationResult.REJECTED, 4)
    assert rejected.factors.pin == m.FactorsPin.MISMATCH
    # A supervisor reads the audit trail (never a PIN in it).
    page = api("audit.list_events").sync_detailed(client=admin, account_id="JP1001", limit=5)
    assert isinstance(page.parsed, m.AuditPage) and all(isinstance(e, m.AuditEvent) for e in page.parsed.events)
    assert {"verification_succeeded", "verification_failed"} <= {event.event for event in page.parsed.events}
    assert pin.pin not in page.content.decode()


def test_a_rule_the_body_model_cannot_hold_comes_back_as_a_typed_error(client_package, served):
    port, keys = served
    m = models()
    agent = importlib.import_module(f"{PACKAGE}.client").AuthenticatedClient(
        base_url=f"http://127.0.0.1:{port}", token=keys["agent"])
    # No pin, code or approval_id: the model allows it (the rule is in its docstring), the server refuses it.
    assert "Give at least one of pin, code and approval_id." in (m.CheckRequest.__doc__ or "")
    answer = api("verifications.check").sync_detailed(client=agent, body=m.CheckRequest(
        account_id="JP1001", channel=m.CheckRequestChannel.CHAT, agent_id="agent-42"))
    assert answer.status_code == 400 and isinstance(answer.parsed, m.Error)
    assert answer.parsed.error.code == "validation_error"
    details = json.loads(answer.content)["error"]["details"]
    assert details == {"pin": ["Give at least one of pin, code and approval_id."]}
