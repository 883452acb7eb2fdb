"""HTTP entry points: thin blueprints over the domain services."""

from __future__ import annotations

from flask import Flask

from verify_service.api import agents, audit, codes, customers, docs, locks, ops, pins, verifications


def register_blueprints(app: Flask) -> None:
    """Mount every blueprint."""
    for module in (customers, pins, verifications, codes, locks, audit, agents, ops, docs):
        app.register_blueprint(module.bp)
