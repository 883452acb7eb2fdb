"""gunicorn settings for verify-service; GUNICORN_* variables override the defaults."""

import glob
import multiprocessing
import os
import shutil
import tempfile

# Prometheus counters are kept per worker in files and summed on scrape (prometheus-client multiprocess mode).
# prometheus_client picks that mode when it is first imported, so the folder is set before anything below
# imports it (verify_service.logs and .serving do); workers inherit it at fork. A folder made here is ours to
# remove when gunicorn exits; its path is kept in the environment so a HUP reload of this file reuses it.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["_VERIFY_METRICS_DIR_MADE"] = tempfile.mkdtemp(
        prefix="verify-metrics-")

from verify_service.logs import lean_records  # noqa: E402 (after the metrics folder, on purpose)
from verify_service.serving import drain_seconds  # noqa: E402

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: a check is short and I/O-bound on the database and Redis; 2 per core plus one.
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
# gunicorn's sync worker, except that on SIGTERM it keeps serving for GUNICORN_DRAIN_SECONDS (default 5) with
# /readyz answering 503, so load balancers take the instance out before it stops accepting.
worker_class = "verify_service.serving.DrainingSyncWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
_drain = drain_seconds()
# After the drain, in-flight requests get GUNICORN_GRACEFUL_TIMEOUT s to finish before gunicorn kills the worker.
graceful_timeout = _drain + int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# gunicorn 27 opens a control socket under $HOME by default; the service does not use it (nor should containers).
control_socket_disable = True
accesslog = None  # the app writes one JSON line per request, with its request id (and the route, never the path)
# Should an operator turn gunicorn's own access log on (--access-logfile), its request lines and its error log's
# still never hold an entry link's token: this logger redacts /entry/<token> from every line it writes.
logger_class = "verify_service.serving.RedactingLogger"
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "verify_service.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
}
lean_records()  # every handler above writes JSON lines, which never carry the caller's file, thread or process


def on_starting(server):  # noqa: ANN001, ANN201 (gunicorn hook)
    """Start with no metric files from an earlier run (only prometheus-client's *.db files are removed)."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):  # noqa: ANN001, ANN201 (gunicorn hook)
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def remove_own_metrics_dir() -> None:
    """Remove the metrics folder this file made (an operator's own PROMETHEUS_MULTIPROC_DIR is left alone)."""
    own = os.environ.get("_VERIFY_METRICS_DIR_MADE")
    if own and own == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(own, ignore_errors=True)


def on_exit(server):  # noqa: ANN001, ANN201 (gunicorn hook)
    """gunicorn stops: leave no metrics folder behind."""
    remove_own_metrics_dir()


# A bad setting stops the master here, with one line on stderr, before any worker starts (and before the
# settings are read again by each worker). After PROMETHEUS_MULTIPROC_DIR is set: this imports the app.
from verify_service.startup import configured_or_exit  # noqa: E402

try:
    configured_or_exit()
except SystemExit:
    remove_own_metrics_dir()  # on_exit never runs for a master that stops while reading this file
    raise
