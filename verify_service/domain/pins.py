"""Support PIN generation rules."""

from __future__ import annotations

import secrets

PIN_LENGTH = 6


def is_weak_pin(pin: str) -> bool:
    """One digit repeated, or an ascending or descending run (wrapping too)."""
    digits = [int(c) for c in pin]
    steps = {(b - a) % 10 for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({0}, {1}, {9})


def generate_pin(previous: str | None = None) -> str:
    """Six CSPRNG digits that are not weak and differ from the previous PIN."""
    while True:
        pin = f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"
        if not is_weak_pin(pin) and pin != previous:
            return pin
