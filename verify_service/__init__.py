"""verify-service: is this caller the account holder?"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix

from verify_service import logs
from verify_service.adapters.metrics import split_counters
from verify_service.api import observability, register_blueprints
from verify_service.api.errors import register_error_handlers
from verify_service.api.http import check_body_type
from verify_service.bootstrap import Services, build_services, warn_unrestricted_agent_keys
from verify_service.config import PROJECT_ROOT, Settings, load_settings
from verify_service.console import contacts as console_contacts  # noqa: F401 (its routes join the console's)
from verify_service.console import views as console_views
from verify_service.console.i18n import init_babel
from verify_service.domain.ports import Clock
from verify_service.web import CompactJSONProvider

MAX_BODY_BYTES = 64 * 1024


class ConsoleSessions(SecureCookieSessionInterface):
    """Only the console has sessions (its cookie's path is /console): API requests build no signer for one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The signed cookie session under /console; an empty, unsaved one elsewhere."""
        if not request.path.startswith("/console"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def create_app(test_config: dict[str, Any] | None = None, *, settings: Settings | None = None,
               clock: Clock | None = None) -> Flask:
    """The application factory: settings from VERIFY_* (or given), services wired once."""
    settings = settings or load_settings(**(test_config or {}))
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      TESTING=settings.env == "test", SESSION_COOKIE_NAME="verify_console",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=settings.env == "production", SESSION_COOKIE_PATH="/console")
    app.json = CompactJSONProvider(app)
    app.session_interface = ConsoleSessions()
    services: Services = build_services(settings, clock=clock)
    app.extensions["verify"] = services
    Migrate(app, services.db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    register_error_handlers(app)
    observability.install(app)
    app.before_request(check_body_type)
    register_blueprints(app)
    app.register_blueprint(console_views.bp)
    init_babel(app)
    if settings.trusted_proxies:
        # Behind N reverse proxies, take the client address (audit ip, sign-in throttling) from them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies, x_host=settings.trusted_proxies)
    if settings.outbox_inprocess:
        # Messages left queued by an earlier process (a restart, a gateway outage) are picked up
        # as soon as this process serves its first request, not only after its next own message.
        app.before_request(services.worker.ensure_running)
    from verify_service.cli import register_cli

    register_cli(app)
    logs.configure()
    if split_counters():
        logging.getLogger(__name__).error(
            "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported: each process keeps its own "
            "counters and /metrics shows none of them; set it before the process starts (gunicorn.conf.py does)")
    if settings.env == "production":
        warn_unrestricted_agent_keys(services)
    return app
