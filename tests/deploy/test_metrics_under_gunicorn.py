"""/metrics under the real gunicorn, started the three documented ways: the README's and the Docker image's
command and `make run`. Counters must be summed over the workers, every documented series must be there, and
no metrics folder may be left behind."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.blackbox.conftest import ROOT, VENV_BIN, Service, base_env, create_keys, free_port, run_cli

CHECKS = 24  # right-PIN checks, sent 6 at a time so both workers serve some
WRONG = 3


def documented_series() -> set[str]:
    """Every metric name the README and docs/API.md tell operators about."""
    text = (ROOT / "README.md").read_text() + (ROOT / "docs" / "API.md").read_text()
    return set(re.findall(r"\bverify_[a-z_]+(?:_total|_seconds|_backlog)\b", text))


def dockerfile_command() -> tuple[list[str], dict[str, str]]:
    """The image's CMD and the ENV it sets, read from the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", runtime, flags=re.M):
        env.update(part.split("=", 1) for part in shlex.split(line))  # type: ignore[misc]
    cmd = json.loads(re.findall(r"^CMD (\[.+\])$", runtime, flags=re.M)[-1])
    return cmd, env


def samples(text: str, name: str) -> dict[str, float]:
    """label text -> value of one metric's samples in an exposition."""
    return {labels: float(value) for labels, value in
            re.findall(rf"^{name}(\{{[^}}]*\}})? ([0-9.e+-]+)$", text, flags=re.M)}


class Started:
    """A process group we started (gunicorn itself, or make and its gunicorn); stop() ends all of it."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.log_path = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_healthy(self, port: int, seconds: float = 60.0) -> None:
        """Poll /healthz until it answers 200."""
        service = Service(mode="sqlite", port=port, env={})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if service.request("GET", "/healthz", role=None, timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"not healthy; log:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        """SIGTERM the whole group, then wait until no process of it is left."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.process.poll()
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> Path:
    """A TMPDIR of the test's own, where gunicorn.conf.py makes its metrics folder."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def started() -> Iterator[list[Started]]:
    """Stops whatever a test started."""
    processes: list[Started] = []
    yield processes
    for process in processes:
        process.stop()


def service_env(tmp_path: Path, tmpdir: Path) -> dict[str, str]:
    """A migrated SQLite database with audit anchors on (so the anchor gauges are documented series too)."""
    env = base_env(f"sqlite:///{tmp_path / 'metrics.sqlite3'}", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({"TMPDIR": str(tmpdir), "GUNICORN_WORKERS": "2",
                "VERIFY_AUDIT_ANCHOR_FILE": str(tmp_path / "anchors.jsonl")})
    run_cli(env, "db", "upgrade")
    return env


def checks_through_both_workers(service: Service) -> None:
    """CHECKS right-PIN checks (concurrently, so both workers take some) and WRONG wrong ones."""
    account_id = service.register()
    pin = service.pin(account_id)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: service.check_ok(account_id, pin)["result"], range(CHECKS)))
    assert answers == ["verified"] * CHECKS
    other = service.register()
    wrong = "258147" if service.pin(other) != "258147" else "369258"
    for _ in range(WRONG):
        assert service.check_ok(other, wrong)["result"] == "rejected"


def missing_series(service: Service, text: str | None = None) -> set[str]:
    """The documented series a scrape lacks."""
    text = text if text is not None else service.request("GET", "/metrics", role=None).body.decode()
    return {name for name in documented_series() if not re.search(rf"^{name}(_bucket|_count)?[{{ ]", text, re.M)}


def assert_summed_metrics(service: Service, tmpdir: Path) -> None:
    """Every documented series is scraped, and the check counters are the sums over both workers."""
    folders = list(tmpdir.glob("verify-metrics-*"))
    assert len(folders) == 1, folders
    counted = {path.stem: sum(value for key, value, *_ in MmapedDict.read_all_values_from_file(str(path))
                              if "verify_verifications_total" in key)
               for path in folders[0].glob("counter_*.db")}
    writers = [name for name, value in counted.items() if value]
    assert len(writers) >= 2, f"checks counted by {counted}: both workers must have served checks"
    deadline = time.monotonic() + 20  # the anchor age appears with the first anchor, which the outbox worker writes
    while missing_series(service) and time.monotonic() < deadline:
        time.sleep(0.2)
    for _ in range(4):  # each scrape may be served by either worker; every one must show the sums
        text = service.request("GET", "/metrics", role=None).body.decode()
        missing = missing_series(service, text)
        assert not missing, f"documented series missing from /metrics: {sorted(missing)}"
        checks = samples(text, "verify_verifications_total")
        assert checks['{channel="phone",result="verified"}'] == CHECKS, checks
        assert checks['{channel="phone",result="rejected"}'] == WRONG, checks
        latency = samples(text, "verify_http_request_duration_seconds_count")
        posted = sum(v for k, v in latency.items() if 'route="/v1/verifications"' in k and 'method="POST"' in k)
        assert posted == CHECKS + WRONG, latency


def keys_for(env: dict[str, str]) -> dict[str, str]:
    """One agent and one portal key, made with the CLI."""
    suffix = secrets.token_hex(4)
    made = create_keys(env, {f"m-agent-{suffix}": ["agent"], f"m-portal-{suffix}": ["portal"]})
    return {"agent": made[f"m-agent-{suffix}"], "portal": made[f"m-portal-{suffix}"]}


def serve_check_and_scrape(argv: list[str], env: dict[str, str], cwd: Path, port: int, tmpdir: Path,
                           log: Path, started: list[Started], keys: Callable[[], dict[str, str]]) -> Started:
    """Start the command, make checks through both workers, scrape the sums, stop it: no folder is left."""
    server = Started(argv, env, cwd, log)
    started.append(server)
    server.wait_healthy(port, seconds=120)
    service = Service(mode="sqlite", port=port, env=env, keys=keys())
    checks_through_both_workers(service)
    assert_summed_metrics(service, tmpdir)
    server.stop()
    assert list(tmpdir.iterdir()) == [], "gunicorn left its metrics folder behind"
    return server


@pytest.mark.slow
def test_the_readme_command_serves_counters_summed_over_two_workers_and_leaves_no_folder(
        tmp_path, tmpdir_env, started):
    env = service_env(tmp_path, tmpdir_env)
    port = free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    server = serve_check_and_scrape([str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], env, ROOT,
                                    port, tmpdir_env, tmp_path / "gunicorn.log", started, lambda: keys_for(env))
    assert server.process.wait(timeout=10) == 0


@pytest.mark.slow
def test_the_docker_image_command_serves_counters_summed_over_two_workers(tmp_path, tmpdir_env, started):
    cmd, image_env = dockerfile_command()
    assert cmd[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    env = {**service_env(tmp_path, tmpdir_env), **image_env}
    port = free_port()
    env.update({  # what an operator passes with `docker run -e`: a port of ours, production secrets, a gateway
        "GUNICORN_BIND": f"127.0.0.1:{port}", "VERIFY_AUDIT_ANCHOR_FILE": str(tmp_path / "anchors.jsonl"),
        "VERIFY_SECRET_KEY": secrets.token_urlsafe(32), "VERIFY_PIN_KEYS": f"p1:{secrets.token_urlsafe(32)}",
        "VERIFY_AUDIT_KEYS": f"a1:{secrets.token_urlsafe(32)}", "VERIFY_DELIVERY_BACKEND": "webhook",
        "VERIFY_SMS_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/sms",
        "VERIFY_SMS_WEBHOOK_SECRET": secrets.token_urlsafe(32)})
    assert env["VERIFY_ENV"] == "production"
    serve_check_and_scrape([str(VENV_BIN / cmd[0]), *cmd[1:]], env, ROOT, port, tmpdir_env, tmp_path / "gunicorn.log",
                           started, lambda: keys_for(env))


def make_run_tree(tmp_path: Path) -> Path:
    """A copy of the project, so `make run` keeps its var/ (SQLite database, demo keys) there, not here."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("Makefile", "wsgi.py", "gunicorn.conf.py", "requirements.txt", "requirements-dev.txt"):
        shutil.copy2(ROOT / name, tree / name)  # copy2 keeps the times: make sees the venv up to date
    # Copied, not linked: the default database lives under the package's root.
    for name in ("verify_service", "migrations"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


@pytest.mark.slow
def test_make_run_serves_counters_summed_over_its_workers_and_leaves_no_folder(tmp_path, tmpdir_env, started):
    tree = make_run_tree(tmp_path)
    env = {k: v for k, v in base_env("", None).items() if k != "VERIFY_DATABASE_URL"}
    env.update({"TMPDIR": str(tmpdir_env), "GUNICORN_WORKERS": "2", "GUNICORN_DRAIN_SECONDS": "0",
                "VERIFY_ENV": "development", "VERIFY_AUDIT_ANCHOR_FILE": str(tmp_path / "anchors.jsonl")})
    port = free_port()

    def demo_keys() -> dict[str, str]:
        demo = dict(line.split("=", 1) for line in (tree / "var" / "demo-keys.env").read_text().split() if "=" in line)
        return {"agent": demo["AGENT_KEY"], "portal": demo["PORTAL_KEY"]}

    serve_check_and_scrape(["make", "run", f"VENV={VENV_BIN.parent}", "HOST=127.0.0.1", f"PORT={port}"], env, tree,
                           port, tmpdir_env, tmp_path / "make-run.log", started, demo_keys)
