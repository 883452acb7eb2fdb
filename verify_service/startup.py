"""Starting the service: a bad setting is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

from flask import Flask

from verify_service import create_app
from verify_service.adapters.crypto import parse_key_ring
from verify_service.config import load_settings
from verify_service.errors import ConfigError

CONFIG_ERROR = 2
# gunicorn's "App failed to load": its master stops at once instead of restarting the worker forever.
GUNICORN_APP_LOAD_ERROR = 4


def exit_on_config_error(error: ConfigError) -> NoReturn:
    """Print `verify-service: configuration error: <variable and rule>` on one line and exit non-zero."""
    line = " ".join(str(error).split())
    print(f"verify-service: configuration error: {line}", file=sys.stderr, flush=True)
    sys.exit(GUNICORN_APP_LOAD_ERROR if "gunicorn.arbiter" in sys.modules else CONFIG_ERROR)


def check_configuration() -> None:
    """Everything create_app checks before it connects anywhere: the settings and both key rings."""
    settings = load_settings()
    parse_key_ring(settings.pin_keys, "VERIFY_PIN_KEYS")
    parse_key_ring(settings.audit_keys, "VERIFY_AUDIT_KEYS")


def configured_or_exit() -> None:
    """For gunicorn.conf.py: stop the master before it starts a worker when a setting is bad."""
    try:
        check_configuration()
    except ConfigError as error:
        exit_on_config_error(error)


def app_or_exit() -> Flask:
    """The app from the VERIFY_* environment (wsgi.py), or one line and an exit on a bad setting."""
    try:
        return create_app()
    except ConfigError as error:
        exit_on_config_error(error)
