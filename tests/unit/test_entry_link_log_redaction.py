"""An entry link's token never reaches a log line: the service's JSON lines and gunicorn's own access and error
logs (whatever format an operator gives them) redact /entry/<token>."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from verify_service import logs
from verify_service.serving import RedactingLogger

TOKEN = "p5tArkgf7yUd2diCVSyVGtv64ehuSJn2w4UXmVlUADM"


def test_the_json_formatter_redacts_a_token_in_the_message_and_the_traceback():
    logger = logging.getLogger("any")
    try:
        raise ValueError(f"boom on /entry/{TOKEN}")
    except ValueError as error:
        record = logger.makeRecord("any", logging.ERROR, __file__, 0, "Exception on %s [POST]",
                                   (f"/entry/{TOKEN}?x=1",), (type(error), error, error.__traceback__))
    line = logs.JsonFormatter().format(record)
    assert TOKEN not in line and json.loads(line)["msg"] == "Exception on /entry/[redacted]?x=1 [POST]"
    assert "boom on /entry/[redacted]" in json.loads(line)["exc"]


def test_the_route_name_is_left_as_it_is():
    assert logs.redact_paths("GET /entry/<token> 200") == "GET /entry/<token> 200"
    assert logs.redact_paths(f"'GET /entry/{TOKEN} HTTP/1.1 x'") == "'GET /entry/[redacted] HTTP/1.1 x'"


def test_gunicorns_access_and_error_logs_redact_the_token_in_any_format(tmp_path: Path, monkeypatch):
    # gunicorn's default error format names the process: a test before this one in the same worker may have run
    # logs.lean_records() (production uses JSON handlers for both logs, which never name it).
    monkeypatch.setattr(logging, "logProcesses", True)
    cfg = Config()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    cfg.set("accesslog", str(access))
    cfg.set("errorlog", str(errors))
    cfg.set("access_log_format", '%(h)s "%(r)s" %(U)s %(q)s %({raw_uri}e)s %({path_info}e)s %(s)s')
    logger = RedactingLogger(cfg)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/entry/{TOKEN}", "PATH_INFO": f"/entry/{TOKEN}",
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9"}
    response = SimpleNamespace(status="200 OK", headers=[], sent=10)
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=5))
    logger.warning(f"Invalid request from ip=203.0.113.9: Invalid HTTP request line: 'GET /entry/{TOKEN} HTTP/1.1 x'")
    try:
        raise RuntimeError("worker failed")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "POST", f"/entry/{TOKEN}")
    for handler in logger.access_log.handlers + logger.error_log.handlers:
        handler.flush()
    written = access.read_text() + errors.read_text()
    assert TOKEN not in written
    assert written.count("/entry/[redacted]") == 4 + 2, written


def test_gunicorn_conf_uses_the_redacting_logger(root: Path):
    assert 'logger_class = "verify_service.serving.RedactingLogger"' in (root / "gunicorn.conf.py").read_text()
