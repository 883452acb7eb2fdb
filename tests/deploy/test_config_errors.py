"""A bad setting is one line on stderr naming the variable and the rule, and a non-zero exit, however the
service is started (issue 17.11): real processes, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.blackbox.conftest import ROOT, VENV_BIN, base_env, free_port

PREFIX = "verify-service: configuration error: "
MULTI_HOST_FORM = "postgresql+psycopg://user@/db?host=h1:5432&host=h2:5432&target_session_attrs=read-write"

BAD_SETTINGS = {
    "not a number": ({"VERIFY_LOCKOUT_THRESHOLD": "five"}, "VERIFY_LOCKOUT_THRESHOLD must be a whole number"),
    "libpq multi-host URL": ({"VERIFY_DATABASE_URL": "postgresql://ops:hunter2@h1:5432,h2:5433/verify"},
                             "VERIFY_DATABASE_URL: the libpq multi-host form"),
    "unknown database": ({"VERIFY_DATABASE_URL": "mysql://ops@db/verify"},
                         "VERIFY_DATABASE_URL must be a PostgreSQL or SQLite URL"),
    "weak production secret": ({"VERIFY_ENV": "production", "VERIFY_SECRET_KEY": "a" * 40},
                               "VERIFY_SECRET_KEY is too predictable"),
    "malformed key ring": ({"VERIFY_PIN_KEYS": "no-key-id-here"},
                           "VERIFY_PIN_KEYS entries must look like KEYID:SECRET"),
}


def gunicorn(*config: str, workers: int = 2) -> list[str]:
    return [str(VENV_BIN / "gunicorn"), *config, "--no-control-socket", "-w", str(workers),
            "-b", f"127.0.0.1:{free_port()}", "wsgi:app"]


ENTRY_POINTS = {
    "python -c 'import wsgi'": lambda: [str(VENV_BIN / "python"), "-c", "import wsgi"],
    "flask --app wsgi db upgrade": lambda: [str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
    "gunicorn -c gunicorn.conf.py": lambda: gunicorn("-c", "gunicorn.conf.py"),
}


def start(command: list[str], settings: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**base_env(f"sqlite:///{tmp_path / 'config.sqlite3'}", None), **settings}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_naming_the_variable_and_the_rule(entry, case, tmp_path):
    settings, rule = BAD_SETTINGS[case]
    result = start(ENTRY_POINTS[entry](), settings, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(PREFIX) and rule in result.stderr


def test_the_libpq_multi_host_error_names_the_form_that_works_and_hides_the_password(tmp_path):
    settings, _ = BAD_SETTINGS["libpq multi-host URL"]
    result = start(ENTRY_POINTS["python -c 'import wsgi'"](), settings, tmp_path)
    assert MULTI_HOST_FORM in result.stderr and "hunter2" not in result.stderr


def test_a_gunicorn_worker_with_a_bad_setting_stops_the_master_instead_of_restarting(tmp_path):
    """Without gunicorn.conf.py's early check, the worker's own exit still ends gunicorn, with our one line.

    One worker: with two exiting together, gunicorn 27's master can itself print a HaltServer traceback.
    """
    empty = tmp_path / "empty.conf.py"
    empty.write_text("")
    result = start(gunicorn("-c", str(empty), workers=1), {"VERIFY_LOCKOUT_THRESHOLD": "five"}, tmp_path)
    assert result.returncode == 4 and "Traceback" not in result.stderr  # gunicorn's "App failed to load"
    ours = [line for line in result.stderr.splitlines() if line.startswith(PREFIX)]
    assert ours == [PREFIX + "VERIFY_LOCKOUT_THRESHOLD must be a whole number, got 'five'"], result.stderr


def test_a_good_configuration_still_starts_gunicorn(tmp_path):
    process = subprocess.Popen(gunicorn("-c", "gunicorn.conf.py"), cwd=ROOT, stderr=subprocess.PIPE,
                               env=base_env(f"sqlite:///{tmp_path / 'ok.sqlite3'}", None), text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=3)  # still running: no configuration error
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_master_stopped_by_a_bad_setting_leaves_no_metrics_folder(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    settings = {**BAD_SETTINGS["not a number"][0], "TMPDIR": str(tmpdir)}
    result = start(gunicorn("-c", "gunicorn.conf.py"), settings, tmp_path)
    assert result.returncode != 0 and result.stderr.startswith(PREFIX)
    assert list(tmpdir.iterdir()) == []
