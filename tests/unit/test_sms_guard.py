"""The SMS pumping guard: number classification (pure) and the hourly caps over a fake send log."""

from datetime import timedelta

import pytest

from tests.fakes import START, FakeSendLog
from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.sms_guard import SmsCaps, SmsGuard, destination_mac_input, destination_refusal
from verify_service.errors import Conflict, RateLimited

VAULT = KeyRingVault.from_setting("t:" + "x" * 40)


@pytest.mark.parametrize("phone,reason", [
    ("+19005551234", "premium_rate"),     # US 1-900
    ("+448712345678", "premium_rate"),    # GB 0871
    ("+979123456789", "premium_rate"),    # international premium rate (region 001)
    ("+81990123456", "premium_rate"),     # JP 0990
    ("+80812345678", "shared_cost"),      # international shared cost (region 001)
    ("+33884012345", "shared_cost"),      # FR 08 84
    ("+80012345678", "toll_free"),        # international freephone (region 001)
    ("+81120123456", "toll_free"),        # JP 0120
    ("+881612345678", "satellite"),       # GMSS satellite: phonenumbers says MOBILE, region 001
    ("+870301234567", "satellite"),       # Inmarsat
    ("+8823421234", "satellite"),         # international networks
    ("+883510012345", "satellite"),       # international networks (VOIP, region 001)
    ("+81312345678", "fixed_line"),       # Tokyo
    ("+4930123456", "fixed_line"),        # Berlin
    ("+815012345678", "voip"),            # JP 050
    ("+447012345678", "personal_number"),  # GB 070
    ("+15002345678", "personal_number"),  # US 500
    ("+447640123456", "pager"),           # GB 076
    ("+81570012345", "uan"),              # JP 0570
])
def test_numbers_that_cost_or_cannot_receive_sms_are_refused_with_their_reason(phone, reason):
    assert destination_refusal(phone) == reason


@pytest.mark.parametrize("phone", ["+819012345678", "+447911123456", "+33612345678", "+4915123456789",
                                   "+14155552671"])
def test_mobile_and_fixed_line_or_mobile_numbers_pass(phone):
    assert destination_refusal(phone) is None


@pytest.mark.parametrize("phone", ["+8101234567", "+99912345678"])
def test_a_number_phonenumbers_cannot_classify_or_parse_is_refused(phone):
    assert destination_refusal(phone) == "unknown"


def guard(refused=None, **caps):
    return SmsGuard(caps=SmsCaps(**caps), vault=VAULT, on_refused=(refused if refused is not None else []).append)


def test_allow_list_does_not_let_a_premium_rate_number_of_an_allowed_country_through():
    refused = []
    with pytest.raises(Conflict) as error:
        guard(refused).check_destination("+19005551234", ("JP", "US"))
    assert error.value.details == {"reason": "premium_rate"} and refused == ["premium_rate"]
    assert "+1 *******234" in error.value.message and "9005551234" not in error.value.message
    guard().check_destination("+14155552671", ("JP", "US"))


def test_a_country_outside_the_allow_list_is_refused_as_country():
    refused = []
    with pytest.raises(Conflict) as error:
        guard(refused).check_destination("+33612345678", ("JP",))
    assert "FR" in error.value.message and refused == ["country"]


def test_destination_mac_is_keyed_and_apart_from_code_macs():
    mac = guard().destination_mac("+819012345678")
    assert mac == VAULT.mac(destination_mac_input("+819012345678")).blob and b"9012345678" not in mac
    assert mac != VAULT.mac("+819012345678").blob and mac != guard().destination_mac("+819012345679")


def fill(log, count, every=60.0, mac=b"m", actor="k"):
    for i in range(count):
        log.record(START + timedelta(seconds=i * every), mac, actor)


def test_per_number_cap_locks_the_destination_then_refuses_until_the_oldest_counted_send_leaves_the_hour():
    log, refused = FakeSendLog(), []
    fill(log, 3)
    now = START + timedelta(seconds=150.5)
    with pytest.raises(RateLimited) as error:
        guard(refused, per_number=3).enforce_caps(log, b"m", "other-key", now)
    assert error.value.retry_after == 3450 and error.value.details == {"reason": "per_number"}
    assert log.locked == [b"m"] and refused == ["per_number"]
    guard(per_number=3).enforce_caps(log, b"m", "k", START + timedelta(hours=1))


def test_retry_after_rounds_up_and_counts_from_the_capth_newest_send():
    log = FakeSendLog()
    fill(log, 5, every=100.0)  # 0, 100, 200, 300, 400 s; with a cap of 2 the 300 s send must leave
    with pytest.raises(RateLimited) as error:
        guard(per_number=2).enforce_caps(log, b"m", "k", START + timedelta(seconds=400.001))
    assert error.value.retry_after == 3500


def test_per_key_cap_counts_every_destination_of_the_key():
    log, refused = FakeSendLog(), []
    for i in range(4):
        log.record(START, bytes([i]), "agent-key")
    with pytest.raises(RateLimited):
        guard(refused, per_key=4).enforce_caps(log, b"new", "agent-key", START + timedelta(seconds=1))
    guard(per_key=4).enforce_caps(log, b"new", "portal-key", START + timedelta(seconds=1))
    assert refused == ["per_key"]


def test_global_cap_counts_every_send_and_is_reported_as_global():
    log, refused = FakeSendLog(), []
    for i in range(5):
        log.record(START, bytes([i]), f"key-{i}")
    with pytest.raises(RateLimited) as error:
        guard(refused, total=5).enforce_caps(log, b"new", "new-key", START + timedelta(minutes=10))
    assert error.value.retry_after == 3000 and refused == ["global"]
    assert "limit" in error.value.message


def test_sends_under_every_cap_pass():
    log = FakeSendLog()
    fill(log, 2)
    guard(per_number=3, per_key=3, total=3).enforce_caps(log, b"m", "k", START + timedelta(minutes=5))
