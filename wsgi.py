"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`.

A bad setting prints one line that names the variable and the rule, and exits non-zero.
"""

from verify_service.startup import app_or_exit

app = app_or_exit()
