"""The lockout rule under concurrency: threads, two service instances, and real gunicorn workers."""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def fire_together(count, send):
    """Run send(i) in `count` threads released at the same moment; return the results."""
    barrier, results, lock = threading.Barrier(count), [], threading.Lock()

    def worker(i):
        barrier.wait()
        result = send(i)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def wrong_body(pin):
    return {"account_id": "JP1001", "pin": "000001" if pin != "000001" else "000002",
            "channel": "phone", "agent_id": "agent-1"}


@pytest.mark.parametrize("instances", [1, 2])
def test_thirty_simultaneous_wrong_checks_give_five_rejected_and_25_locked(make_harness, mode, instances):
    first = make_harness(mode)
    pin = first.register()
    apps = [first] + [make_harness(mode, clean=False) for _ in range(instances - 1)]

    def send(i):
        app = apps[i % instances]
        return app.call("POST", "/v1/verifications", "agent", wrong_body(pin)).get_json()["result"]

    results = fire_together(30, send)
    assert results.count("rejected") == 5 and results.count("locked") == 25
    lock = first.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()
    assert lock["locked"] is True and lock["failed_attempts"] == 5


def test_simultaneous_right_pins_during_a_lock_are_all_locked(make_harness, mode):
    harness = make_harness(mode)
    pin = harness.register()
    for _ in range(5):
        harness.call("POST", "/v1/verifications", "agent", wrong_body(pin))
    before = harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()

    def send(i):
        return harness.call("POST", "/v1/verifications", "agent", {**wrong_body(pin), "pin": pin}).get_json()

    results = fire_together(30, send)
    assert {r["result"] for r in results} == {"locked"}
    assert harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json() == before


class Gunicorn:
    """One service instance: gunicorn with two workers on a free port."""

    def __init__(self, env):
        self.port = free_port()
        bin_dir = Path(sys.executable).parent
        self.process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{self.port}",
             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def request(self, method, path, body=None, key=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.mark.slow
def test_thirty_wrong_checks_over_two_gunicorn_instances(make_harness, mode, databases):
    harness = make_harness(mode)
    pin = harness.register()
    settings = harness.services.settings
    env = {**os.environ, "VERIFY_ENV": "test", "VERIFY_DATABASE_URL": settings.database_url,
           "VERIFY_PIN_KEYS": settings.pin_keys, "GUNICORN_DRAIN_SECONDS": "0"}
    env.pop("VERIFY_REDIS_URL", None)
    if settings.redis_url:
        env["VERIFY_REDIS_URL"] = settings.redis_url
    servers = [Gunicorn(env), Gunicorn(env)]
    try:
        results = fire_together(30, lambda i: servers[i % 2].request(
            "POST", "/v1/verifications", wrong_body(pin), harness.keys["agent"]))
    finally:
        for server in servers:
            server.stop()
    assert all(status == 200 for status, _ in results)
    answers = [body["result"] for _, body in results]
    assert answers.count("rejected") == 5 and answers.count("locked") == 25
