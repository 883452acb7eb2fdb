"""Audit events name phone numbers by keyed reference only (domain with fakes): no digit beyond the country code."""

import hashlib
import hmac
import re

import pytest

from tests.unit.worlds import ACCOUNT, ACTOR, PHONE, VAULT, holds, make_world
from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.phone_refs import country_calling_code, phone_details, phone_ref
from verify_service.domain.sms_guard import destination_mac_input

OTHER_PHONE = "+819087654321"
REF = re.compile(r"^ph_[0-9a-f]{16}$")
OLD_SECRET, NEW_SECRET = "o" * 40, "n" * 40


def details_of(world, name):
    """The details of every stored event of that name, oldest first."""
    return [e.event.details for e in world.uow.store.events if e.event.event == name]


def no_fragment(details, phone):
    """True when no masked form and no last four digits of the number appear in the details."""
    text = repr(details)
    return "*" not in text and not holds(text, phone[-4:]) and phone[1:] not in text


def test_a_reference_is_ph_and_16_hex_of_the_vaults_mac_over_its_own_prefix():
    ref, key_id = phone_ref(VAULT, PHONE)
    assert REF.match(ref) and key_id == "t"
    assert ref[3:] == VAULT.mac("audit-phone:" + PHONE).blob.hex()[:16]
    # Its own prefix: neither the SMS caps' destination MAC nor a MAC of the bare number.
    assert ref[3:] not in (VAULT.mac(destination_mac_input(PHONE)).blob.hex()[:16], VAULT.mac(PHONE).blob.hex()[:16])


def test_the_same_number_gives_the_same_reference_and_another_number_another():
    assert phone_ref(VAULT, PHONE) == phone_ref(VAULT, PHONE)
    assert phone_ref(VAULT, PHONE)[0] != phone_ref(VAULT, OTHER_PHONE)[0]


def test_without_the_key_the_reference_cannot_be_recomputed_from_the_number():
    ref, _ = phone_ref(VAULT, PHONE)
    unkeyed = [hashlib.sha256(f"audit-phone:{PHONE}".encode()).hexdigest()[:16],
               hmac.new(b"", f"audit-phone:{PHONE}".encode(), "sha256").hexdigest()[:16]]
    assert ref[3:] not in unkeyed
    assert phone_ref(KeyRingVault.from_setting("t:" + "y" * 40), PHONE)[0] != ref  # same key id, other secret


def test_after_a_key_rotation_the_reference_names_its_key_and_the_old_key_gives_the_old_one_back():
    before = KeyRingVault.from_setting(f"2026a:{OLD_SECRET}")
    after = KeyRingVault.from_setting(f"2027a:{NEW_SECRET},2026a:{OLD_SECRET}")
    old_ref, old_key = phone_ref(before, PHONE)
    new_ref, new_key = phone_ref(after, PHONE)
    assert (old_key, new_key) == ("2026a", "2027a") and old_ref != new_ref
    # An investigator compares under one key: the ring's 2026a MAC is the old event's reference.
    macs = {m.key_id: "ph_" + m.blob.hex()[:16] for m in after.macs("audit-phone:" + PHONE)}
    assert macs == {"2027a": new_ref, "2026a": old_ref}


@pytest.mark.parametrize(("phone", "country"), [("+819012345678", "+81"), ("+14155552671", "+1"),
                                                 ("+447700900123", "+44"), ("+8613800138000", "+86")])
def test_the_country_calling_code_alone_is_kept(phone, country):
    assert country_calling_code(phone) == country
    details = phone_details(VAULT, phone)
    assert details["phone_country"] == country and no_fragment(details, phone)


def test_registration_audits_the_reference_and_country_not_the_number():
    world = make_world()
    [registered] = details_of(world, "customer_registered")
    assert registered == {"locale": "ja", "phone_ref": phone_ref(VAULT, PHONE)[0], "phone_ref_key": "t",
                          "phone_country": "+81"}
    assert no_fragment(registered, PHONE)


def test_a_code_sent_names_the_number_by_the_registrations_reference():
    world = make_world()
    world.send()
    [registered], [sent] = details_of(world, "customer_registered"), details_of(world, "code_sent")
    assert sent["phone_ref"] == registered["phone_ref"] and sent["phone_country"] == "+81"
    assert "destination" not in sent and no_fragment({k: v for k, v in sent.items() if k != "challenge_id"}, PHONE)


def test_a_phone_change_is_audited_as_the_old_and_new_references():
    world = make_world()
    world.customers.register_or_update(ACCOUNT, {"phone": OTHER_PHONE}, ACTOR)
    [registered], [updated] = details_of(world, "customer_registered"), details_of(world, "customer_updated")
    assert updated == {"fields": ["phone"], "phone_changed": True, "phone_ref": phone_ref(VAULT, OTHER_PHONE)[0],
                       "phone_ref_key": "t", "phone_country": "+81", "previous_phone_ref": registered["phone_ref"],
                       "previous_phone_country": "+81"}
    assert updated["phone_ref"] != updated["previous_phone_ref"]
    assert no_fragment(updated, PHONE) and no_fragment(updated, OTHER_PHONE)


def test_an_update_that_keeps_the_phone_names_no_reference():
    world = make_world()
    world.customers.register_or_update(ACCOUNT, {"phone": PHONE, "email": "a@example.com", "locale": "en"}, ACTOR)
    [updated] = details_of(world, "customer_updated")
    assert updated == {"fields": ["email", "locale"], "phone_changed": False}


def test_the_phone_changed_security_event_carries_references_only():
    world = make_world(security_events=True)
    world.customers.register_or_update(ACCOUNT, {"phone": OTHER_PHONE}, ACTOR)
    payloads = [world.payload(row) for row in world.rows() if row.kind == "event"]
    [changed] = [p for p in payloads if p["event"] == "phone_changed"]
    assert changed["details"]["phone_ref"] == phone_ref(VAULT, OTHER_PHONE)[0]
    assert changed["details"]["previous_phone_ref"] == phone_ref(VAULT, PHONE)[0]
    assert no_fragment(changed, PHONE) and no_fragment(changed, OTHER_PHONE)
