"""The console tests' users and client: an agent (alice) and a supervisor (sam), and a client that prefers English.

A test file that needs other users or settings defines its own `console` fixture, which takes precedence.
"""

import pytest

from tests.console.test_console import PASSWORD


@pytest.fixture
def console(make_harness, mode):
    harness = make_harness(mode)
    harness.services.users.create("alice", "agent", PASSWORD)
    harness.services.users.create("sam", "supervisor", PASSWORD)
    return harness


@pytest.fixture
def client(console):
    """A browser-like client (cookies kept) that prefers English."""
    web = console.client
    web.set_cookie("lang", "en")
    return web
