"""gunicorn settings; every value can be overridden on the command line or by GUNICORN_* env."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# gunicorn 27 opens a control socket under $HOME by default; the service does not use it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
