"""Black-box fixtures: the real service under gunicorn, driven over HTTP only.

Everything here follows /work/shared/API.md: the service is configured through
its documented environment, its schema and keys are made with its documented
CLI, and it is talked to with the standard library's http.client.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PIN_KEYS = "bb1:blackbox-pin-key-0000000000000000000000000"
SECRET_KEY = "blackbox-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
MODES = ("sqlite", "postgres_redis")

THRESHOLD = 5
LOCKOUT_SECONDS = 3
WINDOW_SECONDS = 60
TTL_SECONDS = 2
SHORT_WINDOW_SECONDS = 2

ROLES = ("agent", "portal", "admin")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$")
PIN_RE = re.compile(r"^[0-9]{6}$")
_MISSING: Any = object()


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_account_id(prefix: str = "bb") -> str:
    """A fresh, well-formed account id (so tests never share customers)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def parse_time(value: Any) -> datetime:
    """Parse an RFC 3339 UTC string, asserting its format."""
    assert isinstance(value, str) and TIME_RE.match(value), f"not an RFC 3339 UTC time: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def rfc3339(moment: datetime) -> str:
    """Format a datetime the way the contract shows times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_trivial_pin(pin: str) -> bool:
    """One digit repeated, or an ascending / descending run (the contract's forbidden PINs)."""
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({0}, {1}, {-1})


def assert_good_pin(pin: Any) -> str:
    """A six ASCII digit PIN that is not one of the forbidden shapes."""
    assert isinstance(pin, str) and PIN_RE.match(pin), f"PIN is not six ASCII digits: {pin!r}"
    assert not is_trivial_pin(pin), f"forbidden PIN shape issued: {pin}"
    return pin


def contains_pin(text: str, pin: str) -> bool:
    """True when the PIN appears in text as a standalone token (not inside a longer word/number)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(pin)}(?![0-9A-Za-z])", text) is not None


@dataclass
class Response:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    _json: Any = field(default=_MISSING, repr=False)

    @property
    def json(self) -> Any:
        if self._json is _MISSING:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                raise AssertionError(f"HTTP {self.status} body is not JSON: {self.body[:300]!r}") from error
        return self._json

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.body[:500]!r}"


def expect(response: Response, status: int) -> Any:
    """Assert a JSON success answer with this status; return its body."""
    assert response.status == status, f"expected HTTP {status}, got {response}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"Content-Type {content_type!r} for {response}"
    return response.json


def expect_error(response: Response, status: int, code: str | tuple[str, ...]) -> dict[str, Any]:
    """Assert the contract's single error shape with this status and error code."""
    codes = (code,) if isinstance(code, str) else code
    assert response.status == status, f"expected HTTP {status} {codes}, got {response}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"error Content-Type {content_type!r} for {response}"
    body = response.json
    assert isinstance(body, dict) and "error" in body, f"error body lacks 'error': {body}"
    assert set(body) == {"error"}, f"error body has extra top-level keys: {body}"
    error = body["error"]
    assert isinstance(error, dict), body
    for key in ("code", "message", "details"):
        assert key in error, f"error lacks {key!r}: {body}"
    assert error["code"] in codes, f"expected error.code in {codes}, got {error['code']!r}: {body}"
    assert isinstance(error["message"], str) and error["message"], f"error.message empty: {body}"
    assert error["details"] is None or isinstance(error["details"], dict), f"error.details shape: {body}"
    return error


# --------------------------------------------------------------------------- the service


@dataclass
class Service:
    """A running gunicorn serving the app, plus one API key per role."""

    mode: str
    port: int
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)
    threshold: int = THRESHOLD
    lockout_seconds: int = LOCKOUT_SECONDS
    window_seconds: int = WINDOW_SECONDS
    ttl_seconds: int = TTL_SECONDS

    # ---- raw HTTP

    def request(self, method: str, path: str, *, role: str | None = "agent", key: str | None = None,
                json_body: Any = _MISSING, body: bytes | None = None, headers: dict[str, str] | None = None,
                content_type: str | None = _MISSING, params: dict[str, Any] | None = None,
                chunked: bool = False, timeout: float = 30.0) -> Response:
        """One request. role picks a key of that role; key overrides it; role=None sends no auth."""
        all_headers: dict[str, str] = {}
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        elif role is not None:
            all_headers["Authorization"] = f"Bearer {self.keys[role]}"
        if json_body is not _MISSING:
            body = json.dumps(json_body).encode("utf-8")
        if body is not None and content_type is _MISSING:
            content_type = "application/json"
        if content_type not in (_MISSING, None):
            all_headers["Content-Type"] = content_type  # type: ignore[assignment]
        all_headers.update(headers or {})
        if params:
            path = f"{path}?{urlencode(params)}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                if chunked and body is not None:
                    chunks = [body[i:i + 8192] for i in range(0, len(body), 8192)]
                    conn.request(method, path, body=iter(chunks), headers=all_headers, encode_chunked=True)
                else:
                    conn.request(method, path, body=body, headers=all_headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) and close before reading everything
            answer = conn.getresponse()
            data = answer.read()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
        finally:
            conn.close()

    # ---- API helpers

    def register(self, account_id: str | None = None, phone: str = "+819012345678", **extra: Any) -> str:
        """PUT a new customer as the portal; return its account id."""
        account_id = account_id or new_account_id()
        response = self.request("PUT", f"/v1/customers/{account_id}", role="portal",
                                json_body={"phone": phone, **extra})
        expect(response, 201)
        return account_id

    def pin(self, account_id: str) -> str:
        """The customer's current PIN, as the portal sees it."""
        body = expect(self.request("GET", f"/v1/customers/{account_id}/pin", role="portal"), 200)
        return assert_good_pin(body["pin"])

    def customer(self, account_id: str, role: str = "agent") -> dict[str, Any]:
        """The customer's summary."""
        return expect(self.request("GET", f"/v1/customers/{account_id}", role=role), 200)  # type: ignore[no-any-return]

    def lock_state(self, account_id: str, role: str = "admin") -> dict[str, Any]:
        """GET /lock."""
        return expect(self.request("GET", f"/v1/customers/{account_id}/lock", role=role), 200)  # type: ignore[no-any-return]

    def check(self, account_id: str, pin: str | None = None, *, role: str = "agent", key: str | None = None,
              **extra: Any) -> Response:
        """POST /v1/verifications with sensible defaults."""
        body: dict[str, Any] = {"account_id": account_id, "channel": "phone", "agent_id": "agent-42"}
        if pin is not None:
            body["pin"] = pin
        body.update(extra)
        return self.request("POST", "/v1/verifications", role=role, key=key, json_body=body)

    def check_ok(self, account_id: str, pin: str | None = None, **extra: Any) -> dict[str, Any]:
        """A check that must answer 200."""
        return expect(self.check(account_id, pin, **extra), 200)  # type: ignore[no-any-return]

    def audit_events(self, **params: Any) -> list[dict[str, Any]]:
        """Every audit event matching params, following next_cursor to the end."""
        params = {"limit": 500, **params}
        events: list[dict[str, Any]] = []
        for _ in range(1000):
            body = expect(self.request("GET", "/v1/audit", role="admin", params=params), 200)
            events.extend(body["events"])
            if not body.get("next_cursor"):
                return events
            params = {**params, "cursor": body["next_cursor"]}
        raise AssertionError("audit pagination never ended")

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `flask --app wsgi ...` against this service's configuration."""
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)


def wrong_pin_for(pin: str) -> str:
    """A well-formed, non-trivial PIN that is not the customer's."""
    candidate = "258147" if pin != "258147" else "369258"
    return candidate


def base_env(database_url: str, redis_url: str | None, **timers: int) -> dict[str, str]:
    """The environment of the service and its CLI (API.md, Configuration)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update({
        "VERIFY_ENV": "test",
        "VERIFY_DATABASE_URL": database_url,
        "VERIFY_PIN_KEYS": PIN_KEYS,
        "VERIFY_SECRET_KEY": SECRET_KEY,
        "VERIFY_LOCKOUT_THRESHOLD": str(timers.get("threshold", THRESHOLD)),
        "VERIFY_LOCKOUT_SECONDS": str(timers.get("lockout", LOCKOUT_SECONDS)),
        "VERIFY_FAILURE_WINDOW_SECONDS": str(timers.get("window", WINDOW_SECONDS)),
        "VERIFY_VERIFICATION_TTL_SECONDS": str(timers.get("ttl", TTL_SECONDS)),
        "VERIFY_DELIVERY_BACKEND": "console",
        "PYTHONDONTWRITEBYTECODE": "1",
        "GUNICORN_DRAIN_SECONDS": "0",  # stopping test servers need not wait for a load balancer
    })
    if redis_url:
        env["VERIFY_REDIS_URL"] = redis_url
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"flask {' '.join(args)} failed: {result.stdout}\n{result.stderr}"
    return result


def create_keys(env: dict[str, str], specs: dict[str, list[str]], revoke: tuple[str, ...] = ()) -> dict[str, str]:
    """Create keys with the CLI, in parallel processes; revoke the named ones right after. name -> key."""

    def make(name: str) -> str:
        result = run_cli(env, "keys", "create", "--name", name,
                         *[arg for role in specs[name] for arg in ("--role", role)])
        lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
        if name in revoke:
            run_cli(env, "keys", "revoke", name)
        return lines[-1].strip()

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {name: pool.submit(make, name) for name in specs}
        return {name: future.result() for name, future in futures.items()}


class Gunicorn:
    """A gunicorn process we started (and only it is ever stopped)."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{self.port}",
             "wsgi:app"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_healthy(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy; log:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", params=MODES)
def backing(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """One mode: a fresh migrated database (plus Redis in postgres_redis), API keys, and the main server."""
    mode = str(request.param)
    with tempfile.TemporaryDirectory(prefix=f"verify-blackbox-{mode}-") as tmp:
        workdir = Path(tmp)
        if mode == "sqlite":
            database_url, redis_url = f"sqlite:///{workdir / 'bb.sqlite3'}", None
        else:
            database_url = request.getfixturevalue("new_postgres_database")()
            redis_url = request.getfixturevalue("new_redis_url")()
        env = base_env(database_url, redis_url)
        run_cli(env, "db", "upgrade")
        server = Gunicorn(env, workdir / "gunicorn-main.log")  # boots while the keys are made
        try:
            suffix = uuid.uuid4().hex[:8]
            names = {"agent": f"bb-agent-{suffix}", "agent2": f"bb-agent2-{suffix}",
                     "portal": f"bb-portal-{suffix}", "admin": f"bb-admin-{suffix}",
                     "revoked": f"bb-revoked-{suffix}"}
            specs = {names["agent"]: ["agent"], names["agent2"]: ["agent"], names["portal"]: ["portal"],
                     names["admin"]: ["admin"], names["revoked"]: ["agent", "portal", "admin"]}
            by_name = create_keys(env, specs, revoke=(names["revoked"],))
            server.wait_healthy()
            info = {"mode": mode, "workdir": workdir, "database_url": database_url, "redis_url": redis_url,
                    "names": names, "keys": {role: by_name[name] for role, name in names.items()}}
            info["service"] = _make_service(info, server.port, env)
            with ThreadPoolExecutor(max_workers=4) as pool:
                info["timed"] = {"lock_expiry": pool.submit(lock_expiry_scenario, info["service"]),
                                 "ttl": pool.submit(ttl_scenario, info["service"]),
                                 "window": pool.submit(window_scenario_on_own_instance, info),
                                 "live_key": pool.submit(live_key_scenario, info["service"])}
                yield info
        finally:
            server.stop()


def _make_service(backing: dict[str, Any], port: int, env: dict[str, str], **timers: int) -> Service:
    return Service(mode=backing["mode"], port=port, env=env, keys=dict(backing["keys"]),
                   key_names=dict(backing["names"]), threshold=timers.get("threshold", THRESHOLD),
                   lockout_seconds=timers.get("lockout", LOCKOUT_SECONDS),
                   window_seconds=timers.get("window", WINDOW_SECONDS), ttl_seconds=timers.get("ttl", TTL_SECONDS))


@pytest.fixture(scope="session")
def service(backing: dict[str, Any]) -> Service:
    """The service in one mode (each test runs on sqlite and on postgres_redis)."""
    return backing["service"]  # type: ignore[no-any-return]


@pytest.fixture
def account(service: Service) -> tuple[str, str]:
    """A freshly registered customer: (account_id, pin)."""
    account_id = service.register()
    return account_id, service.pin(account_id)


def run_simultaneously(count: int, action: Callable[[int], Response]) -> list[Response]:
    """Run action(i) in count threads released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[Response | BaseException | None] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = action(index)
        except BaseException as error:  # noqa: BLE001 - reported below
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    errors = [r for r in results if not isinstance(r, Response)]
    assert not errors, f"some simultaneous requests failed: {errors[:3]}"
    return results  # type: ignore[return-value]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- timer scenarios
#
# Tests that must wait for a timer (lock expiry, verification TTL, failure window) start their
# scenario in the background as soon as the first of them runs, so the waits overlap instead of
# adding up. Each scenario only records what the service answered; the tests assert on it.


def sleep_until(moment_text: str, margin: float = 1.1) -> None:
    """Sleep until margin seconds after an RFC 3339 time (margin covers whole-second rounding)."""
    wait = (parse_time(moment_text) - utcnow()).total_seconds() + margin
    time.sleep(max(wait, 0.0))


def _fail_times(service: Service, account_id: str, pin: str, times: int) -> list[dict[str, Any]]:
    return [service.check_ok(account_id, wrong_pin_for(pin)) for _ in range(times)]


def lock_expiry_scenario(service: Service) -> dict[str, Any]:
    account_id = service.register()
    pin = service.pin(account_id)
    seen: dict[str, Any] = {"account_id": account_id, "pin": pin}
    seen["fifth"] = _fail_times(service, account_id, pin, service.threshold)[-1]
    time.sleep(1.0)
    seen["during_wrong"] = service.check_ok(account_id, wrong_pin_for(pin))
    seen["during_correct"] = service.check_ok(account_id, pin)
    sleep_until(seen["fifth"]["locked_until"])
    seen["state_after"] = service.lock_state(account_id)
    seen["summary_after"] = service.customer(account_id)
    seen["wrong_after"] = service.check_ok(account_id, wrong_pin_for(pin))
    seen["correct_after"] = service.check_ok(account_id, pin)
    return seen


def ttl_scenario(service: Service) -> dict[str, Any]:
    account_id = service.register()
    pin = service.pin(account_id)
    check = service.check_ok(account_id, pin)
    path = f"/v1/verifications/{check['verification_id']}"
    seen: dict[str, Any] = {"check": check}
    seen["record_before"] = expect(service.request("GET", path, role="admin"), 200)
    sleep_until(check["valid_until"])
    seen["record_after"] = expect(service.request("GET", path, role="agent"), 200)
    return seen


def window_scenario(service: Service) -> dict[str, Any]:
    account_id = service.register()
    pin = service.pin(account_id)
    seen: dict[str, Any] = {"account_id": account_id, "pin": pin,
                            "early": _fail_times(service, account_id, pin, service.threshold - 1)}
    time.sleep(service.window_seconds + 0.6)
    seen["state_after_window"] = service.lock_state(account_id)
    seen["late"] = _fail_times(service, account_id, pin, service.threshold)
    return seen


def live_key_scenario(service: Service) -> dict[str, Any]:
    """Create a key with the CLI while the service runs, use it, revoke it, use it again."""
    account_id = service.register()
    name = f"bb-live-{account_id}"
    created = service.cli("keys", "create", "--name", name, "--role", "admin")
    assert created.returncode == 0, created.stderr
    key = [line for line in created.stdout.strip().splitlines() if line.strip()][-1].strip()
    seen: dict[str, Any] = {"before": service.request("GET", f"/v1/customers/{account_id}", key=key)}
    revoked = service.cli("keys", "revoke", name)
    assert revoked.returncode == 0, revoked.stderr
    seen["after"] = service.request("GET", f"/v1/customers/{account_id}", key=key)
    return seen


def window_scenario_on_own_instance(backing: dict[str, Any]) -> dict[str, Any]:
    """A second instance (same database) with a short failure window and a 60 s lockout.

    After the window scenario its customer is locked; the instance is then restarted (stopped and a
    new one started with the same configuration) to see whether the lock survived.
    """
    timers = {"window": SHORT_WINDOW_SECONDS, "lockout": 60}
    env = base_env(backing["database_url"], backing["redis_url"], **timers)
    server = Gunicorn(env, backing["workdir"] / "gunicorn-window.log")
    try:
        server.wait_healthy()
        seen = window_scenario(_make_service(backing, server.port, env, **timers))
    finally:
        server.stop()
    server = Gunicorn(env, backing["workdir"] / "gunicorn-restarted.log")
    try:
        server.wait_healthy()
        restarted = _make_service(backing, server.port, env, **timers)
        seen["after_restart_state"] = restarted.lock_state(seen["account_id"])
        seen["after_restart_check"] = restarted.check_ok(seen["account_id"], seen["pin"])
    finally:
        server.stop()
    return seen


@pytest.fixture(scope="session")
def timed(backing: dict[str, Any]) -> dict[str, Future[dict[str, Any]]]:
    """The timer scenarios of this mode (started in the background when the mode's server came up)."""
    return backing["timed"]  # type: ignore[no-any-return]
