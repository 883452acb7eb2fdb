"""The JSON log line, with the lean record settings that gunicorn and `logs.configure` switch on."""

import json
import logging

import pytest

from verify_service import logs


@pytest.fixture
def lean():
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    logs.lean_records()
    yield
    logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved


def line(**extra):
    logger = logging.getLogger("verify_service.access")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "%s %s", ("POST", "/v1/verifications"),
                               None, extra=extra)
    return json.loads(logs.JsonFormatter().format(record))


def test_a_lean_record_gives_the_same_json_line(lean):
    logs.request_id.set("req-1")
    found = line(status=200, ms=1.5, ip="127.0.0.1")
    assert found["msg"] == "POST /v1/verifications" and found["request_id"] == "req-1"
    assert {key: found[key] for key in ("status", "ms", "ip")} == {"status": 200, "ms": 1.5, "ip": "127.0.0.1"}
    assert not {"lineno", "funcName", "threadName", "processName", "process"} & set(found)


def test_lean_records_neither_walk_the_stack_nor_name_threads_and_processes(lean):
    assert logging._srcfile is None  # Logger._log then skips findCaller
    record = logging.getLogger("x").makeRecord("x", logging.INFO, "(unknown file)", 0, "m", (), None)
    assert record.processName is None and record.threadName is None and record.process is None
