"""Fixtures of the keypad entry tests: an `ivr` API key beside the harness's agent, portal and admin keys."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Harness


def add_ivr_key(harness: Harness) -> str:
    """Give the harness a key with the `ivr` role alone (its secret is kept as harness.keys["ivr"])."""
    harness.keys["ivr"] = harness.services.keys.create(f"ivr-{os.urandom(3).hex()}", ["ivr"])[1]
    return harness.keys["ivr"]


@pytest.fixture
def ivr_harness(harness: Harness) -> Harness:
    """The harness (SQLite, and PostgreSQL + Redis) with an `ivr` key."""
    add_ivr_key(harness)
    return harness
