"""Free text's refused characters, ticket keys and phrase redaction (domain/text.py), against unicodedata."""

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify_service.domain.contacts import PHRASE_ALPHABET
from verify_service.domain.text import (
    DASHES,
    LINE_BREAKS,
    REFUSED_CATEGORIES,
    REFUSED_RANGES,
    check_free_text,
    check_ticket_ref,
    redact,
    refused_character,
    refused_class,
    ticket_key,
)
from verify_service.errors import ValidationFailed

PROPERTY = settings(max_examples=300, deadline=None, database=None)
ALL = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
SHOULD_REFUSE = {c for c in ALL if unicodedata.category(c) in REFUSED_CATEGORIES}
ONE_TICKET = ["T-100", "T-100 ", " T-100", "t-100", "\uff34-100", "T\u2010100", "T\u2011100", "T\u2013100",
              "T\u2014100", "T\u2212100", "T\uff0d100", "\uff34\uff0d\uff11\uff10\uff10", "  t\u2010100\u3000"]


def test_the_refused_table_is_every_cc_cf_zl_and_zp_code_point():
    table = {chr(c) for start, end in REFUSED_RANGES for c in range(start, end + 1)}
    assert table == SHOULD_REFUSE
    assert {"\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\u200d", "\ufeff", "\U000e0041"} <= table


@pytest.mark.parametrize("allow", ["", LINE_BREAKS])
def test_the_refused_class_is_one_regex_that_matches_exactly_the_refused_code_points(allow):
    pattern = re.compile(f"[{refused_class(allow=allow)}]")
    matched = {c for c in ALL if pattern.fullmatch(c)}
    assert matched == SHOULD_REFUSE - set(allow)


def test_the_documented_class_names_the_refused_code_points_of_the_bmp_only():
    pattern = re.compile(f"[{refused_class(bmp_only=True)}]")
    assert {c for c in ALL if pattern.fullmatch(c)} == {c for c in SHOULD_REFUSE if ord(c) <= 0xFFFF}
    assert refused_class(bmp_only=True).isascii()  # \\uXXXX escapes only: no tool rewrites it


def test_refused_character_finds_each_refused_code_point_and_lone_surrogates():
    assert all(refused_character(f"ok {c} ok") == c for c in SHOULD_REFUSE)
    assert refused_character("t\ud800") == "\ud800" and refused_character("T-100 \u3000 Kato 加藤 😀") is None


def test_a_refusal_names_the_field():
    with pytest.raises(ValidationFailed) as refused:
        check_free_text("display_name", "Ka\u2028to")
    assert set(refused.value.details) == {"display_name"}


def test_the_dashes_are_every_pd_character_and_the_minus_sign():
    assert set(DASHES) == {c for c in ALL if unicodedata.category(c) == "Pd"} | {"\u2212"}


@pytest.mark.parametrize("written", ONE_TICKET)
def test_one_ticket_written_many_ways_has_one_key(written):
    assert ticket_key(written) == ticket_key("T-100") == "t-100"
    assert check_ticket_ref(written) == "t-100"


@pytest.mark.parametrize("other", ["T-1000", "T100", "T_100", "T-10O", "T-100-1", "T 100", "Ｔ-１０１"])
def test_other_tickets_keep_other_keys(other):
    assert ticket_key(other) != ticket_key("T-100")


def test_inner_whitespace_is_one_space():
    assert ticket_key("ACME  \u3000 42") == ticket_key("acme 42") == "acme 42"


@pytest.mark.parametrize("written", ["T-100\u200b", "\u202eT-100", "T-\u2060100", "T-100\x85", "T\u2028-100",
                                     "T-100\U000e0041", "T-1\ud80000"])
def test_a_ticket_ref_with_a_format_or_separator_character_is_refused(written):
    with pytest.raises(ValidationFailed) as refused:
        check_ticket_ref(written)
    assert set(refused.value.details) == {"ticket_ref"}


@pytest.mark.parametrize("written", [" \u3000 ", "\ufdfa" * 15])
def test_a_ticket_ref_blank_or_too_long_once_normalised_is_refused(written):
    with pytest.raises(ValidationFailed):
        check_ticket_ref(written)


def _full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@PROPERTY
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30))
def test_case_full_width_and_outer_spaces_never_make_another_ticket(ref):
    key = ticket_key(ref)
    assert ticket_key(_full_width(ref.swapcase())) == key == ticket_key(f" {ref}\u3000")


@PROPERTY
@given(st.text(max_size=40))
def test_a_key_is_its_own_key(ref):
    assert ticket_key(ticket_key(ref)) == ticket_key(ref)


# Redaction: the phrase is gone however the customer wrote it.

PHRASE = "NM7M"


@pytest.mark.parametrize("written", ["NM7M", "nm7m", "N M 7 M", "N-M-7-M", "N.M.7.M", "N_M_7_M", "N, M, 7, M",
                                     "N\u2010M\u20137\u2014M", "\uff2e\uff2d\uff17\uff2d",
                                     "\uff4e \uff4d \uff17 \uff4d", "N\u200bM\u200b7\u200bM", "N\u00adM7\u2060M",
                                     "N\u3000M\u30007\u3000M", "N\nM\n7\nM", "\u24c3M7M", "(N)(M)(7)(M)"])
def test_the_phrase_is_redacted_however_it_is_spelled(written):
    redacted = redact(f"he said {written} and hung up", PHRASE)
    assert redacted.replace("([phrase])", "[phrase]") == "he said [phrase] and hung up"


def test_redaction_keeps_the_lines_and_the_rest_of_the_text():
    assert redact("line one\n\tline two N M 7 M", PHRASE) == "line one\n\tline two [phrase]"
    assert redact("no phrase here: NM7 and M7M, N M 8 M", PHRASE) == "no phrase here: NM7 and M7M, N M 8 M"


def test_redaction_normalises_the_text_and_drops_refused_characters():
    assert redact("\uff34\uff0d\uff11 \u202eok\u202c", PHRASE) == "T-1 ok"


_NOT_IN_PHRASES = "bilosuvz "  # letters no phrase holds (no false match across the text around it)
_SEPARATORS = st.text(alphabet=" -.,_/\u2010\u2014\u3000\u200b\u00ad()", max_size=3)


@PROPERTY
@given(phrase=st.text(alphabet=PHRASE_ALPHABET, min_size=4, max_size=4), data=st.data())
def test_no_spelling_of_the_phrase_survives_redaction(phrase, data):
    spelled = ""
    for c in phrase:
        form = data.draw(st.sampled_from([c, c.lower(), _full_width(c), _full_width(c.lower())]))
        spelled += form + data.draw(_SEPARATORS)
    before, after = (data.draw(st.text(alphabet=_NOT_IN_PHRASES, max_size=10)) for _ in range(2))
    redacted = redact(before + spelled + after, phrase)
    assert "[phrase]" in redacted
    letters = re.sub(r"[\W_]", "", redacted.replace("[phrase]", "|")).casefold()
    assert phrase.casefold() not in letters
