"""Support PIN generation rules."""

import pytest

from verify_service.domain.pins import generate_pin, is_weak_pin


@pytest.mark.parametrize("pin", ["000000", "111111", "999999", "123456", "987654", "012345", "543210",
                                 "890123", "210987"])
def test_repeated_digits_and_runs_are_weak(pin):
    assert is_weak_pin(pin)


@pytest.mark.parametrize("pin", ["583920", "112233", "123457", "135790", "000001"])
def test_other_pins_are_not_weak(pin):
    assert not is_weak_pin(pin)


def test_generated_pins_are_six_ascii_digits_and_never_weak():
    for _ in range(2000):
        pin = generate_pin()
        assert len(pin) == 6 and pin.isascii() and pin.isdigit()
        assert not is_weak_pin(pin)


def test_generation_never_returns_the_previous_pin(monkeypatch):
    values = iter([583920, 583920, 583920, 111111, 401297])
    monkeypatch.setattr("verify_service.domain.pins.secrets.randbelow", lambda n: next(values))
    assert generate_pin(previous="583920") == "401297"


def test_generated_pins_spread_over_the_space():
    assert len({generate_pin() for _ in range(500)}) > 490
