"""Deployment files: the Dockerfile passes hadolint, gunicorn's config loads, compose has its services."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify_service.adapters.metrics import split_counters


def test_dockerfile_passes_hadolint(root):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, "--failure-threshold", "warning", str(root / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_config_disables_the_control_socket_and_logs_json(root, monkeypatch, tmp_path):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.delenv("GUNICORN_DRAIN_SECONDS", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    namespace: dict[str, object] = {}
    exec(compile((root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["control_socket_disable"] is True and namespace["workers"] == 3
    assert namespace["graceful_timeout"] == 5 + 20 and namespace["accesslog"] is None  # the default drain, then 20 s


def test_gunicorn_uses_the_draining_worker_and_its_graceful_timeout_covers_the_drain(root, monkeypatch, tmp_path):
    monkeypatch.setenv("GUNICORN_DRAIN_SECONDS", "7")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    namespace: dict[str, object] = {}
    exec(compile((root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["worker_class"] == "verify_service.serving.DrainingSyncWorker"
    assert namespace["graceful_timeout"] == 7 + 20


@pytest.mark.parametrize("service", ["postgres", "redis", "migrate", "app", "outbox", "nginx"])
def test_compose_file_has_each_service(root, service):
    assert f"\n  {service}:\n" in (root / "docker-compose.yml").read_text()


def test_compose_publishes_only_nginx_internal_and_public_servers_and_the_app_trusts_one_proxy(root):
    services = (root / "docker-compose.yml").read_text().split("\n  nginx:\n")
    app = services[0].split("\n  app:\n")[1]
    assert "ports:" not in app and 'VERIFY_TRUSTED_PROXIES: "1"' in app
    assert '["8000:8081", "8080:8080"]' in services[1]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services[1]


def test_a_multiprocess_folder_set_after_prometheus_client_was_imported_is_reported(monkeypatch, tmp_path):
    # This test process imported prometheus_client with no folder set: its counters live in memory.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert split_counters() is False
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert split_counters() is True


def test_gunicorn_config_sets_the_metrics_folder_before_importing_the_service(root):
    source = (root / "gunicorn.conf.py").read_text()
    assert source.index('os.environ["PROMETHEUS_MULTIPROC_DIR"]') < source.index("from verify_service")


def dockerignore_allows(root: Path) -> set[str]:
    """The names the allowlist .dockerignore lets into the build context (`*`, then `!name` lines)."""
    lines = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore starts by ignoring everything"
    return {line[1:] for line in lines if line.startswith("!")}


def test_the_docker_build_context_holds_what_the_dockerfile_copies_and_no_secrets(root):
    allowed = dockerignore_allows(root)
    copied = set()
    for line in (root / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied.update(part for part in line.split()[1:-1] if not part.startswith("--"))
    assert copied == allowed, f"COPY sources {copied} vs .dockerignore allowlist {allowed}"
    assert all((root / name).exists() for name in allowed), "the allowlist names a file that does not exist"
    assert not {".env", "var", ".git", "tests"} & allowed
