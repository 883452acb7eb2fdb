"""Phone validation and masking."""

import pytest

from verify_service.domain.masking import mask_email, mask_phone, normalise_phone


@pytest.mark.parametrize("raw", ["+819012345678", "+14155552671", "+447911123456"])
def test_valid_e164_numbers_are_kept(raw):
    assert normalise_phone(raw) == raw


@pytest.mark.parametrize("raw", ["09012345678", "+81 90 1234 5678", "+8190123", "+99912345678", "+81901234567890",
                                 "", "+", "abc", "+８１9012345678"])
def test_numbers_not_in_valid_e164_are_refused(raw):
    assert normalise_phone(raw) is None


def test_phone_mask_keeps_country_code_and_last_three_digits():
    assert mask_phone("+819012345678") == "+81 *******678"
    assert mask_phone("+14155552671") == "+1 *******671"


def test_email_mask_keeps_first_letter_and_domain():
    assert mask_email("alice@example.com") == "a***@example.com"
    assert mask_email(None) is None
