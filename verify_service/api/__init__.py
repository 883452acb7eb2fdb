"""HTTP entry points: thin blueprints over the domain services."""

from __future__ import annotations

from flask import Flask

from verify_service.api import (
    agents,
    approvals,
    audit,
    codes,
    contacts,
    customers,
    docs,
    entry_links,
    entry_page,
    ivr,
    locks,
    ops,
    pins,
    verifications,
)


def register_blueprints(app: Flask) -> None:
    """Mount every blueprint."""
    for module in (customers, pins, verifications, codes, contacts, approvals, locks, audit, agents, ops, docs,
                   ivr, entry_links, entry_page):
        app.register_blueprint(module.bp)
