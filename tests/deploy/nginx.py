"""The repo's deploy/nginx.conf run by a throwaway nginx of our own (own prefix, own free port, no daemon)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
INSTALL_HINT = "nginx is not installed: apt-get install -y nginx"
SHIPPED_UPSTREAM, SHIPPED_PUBLIC, SHIPPED_INTERNAL = "server app:8000;", "listen 8080;", "listen 8081;"
SHIPPED_ACCESS_LOG = "access_log /var/log/nginx/access.log verify;"
SHIPPED_ERROR_LOG = "error_log /var/log/nginx/error.log "  # a location's own level (the /entry/ locations)

# The main file of our nginx: everything lives under its prefix, and it includes the shipped server block.
MAIN_CONF = """\
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/verify.conf;
}}
"""


def require_nginx() -> str:
    """The nginx binary, or skip the test saying how to install it."""
    if not Path(NGINX).exists():
        pytest.skip(INSTALL_HINT)
    return NGINX


def render(upstream_port: int, public_port: int, internal_port: int, prefix: Path) -> str:
    """The shipped servers, pointed at our gunicorn, listening on our two ports, logging under our prefix."""
    text = SHIPPED_CONF.read_text()
    for line in (SHIPPED_UPSTREAM, SHIPPED_PUBLIC, SHIPPED_INTERNAL):
        assert text.count(line) == 1, f"deploy/nginx.conf should have exactly one `{line}`"
    assert text.count(SHIPPED_ACCESS_LOG) == 2, "each server of deploy/nginx.conf logs in the `verify` format"
    text = text.replace(SHIPPED_UPSTREAM, f"server 127.0.0.1:{upstream_port};")
    text = text.replace(SHIPPED_ACCESS_LOG, f"access_log {prefix}/access.log verify;")
    text = text.replace(SHIPPED_ERROR_LOG, f"error_log {prefix}/error.log ")
    text = text.replace(SHIPPED_PUBLIC, f"listen 127.0.0.1:{public_port};")
    return text.replace(SHIPPED_INTERNAL, f"listen 127.0.0.1:{internal_port};")


class Nginx:
    """nginx in the foreground as our child process, stopped by its own PID: `public_port` serves what the
    internet may reach, `port` (the internal server) the API and the console."""

    def __init__(self, prefix: Path, upstream_port: int, listen_port: int, public_port: int):
        self.prefix, self.port, self.public_port = prefix, listen_port, public_port
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "verify.conf").write_text(render(upstream_port, public_port, listen_port, prefix))
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix))
        self.command = [require_nginx(), "-p", str(prefix), "-e", str(prefix / "error.log"),
                        "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, seconds: float = 10.0) -> Nginx:
        """Check the configuration, start, and wait until the port accepts connections."""
        checked = subprocess.run([*self.command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def error_log(self) -> str:
        """What nginx logged."""
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Quit our nginx (and only ours)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
