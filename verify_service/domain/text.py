"""Text that customers and agents read: the characters free text refuses, the key two ticket references are
compared by, and the redaction of a phrase a customer quotes.
"""

from __future__ import annotations

import re
import unicodedata

from verify_service.errors import ValidationFailed

# What free text refuses: Cc (C0, DEL and C1, so U+0085 too), Cf (bidi overrides and isolates, zero-width
# characters, soft hyphen, BOM, tag characters, ...), Zl and Zp. As of Unicode 14.0 (Python 3.11's unicodedata);
# tests/unit/test_text.py checks the table against every code point, so a newer Unicode cannot pass unseen.
# A table, not a scan of unicodedata at import: the scan costs every process 0.15 s, and the OpenAPI document's
# patterns stay the same from one Python to the next.
REFUSED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
REFUSED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
LINE_BREAKS = "\t\n\r"  # the controls multiline text keeps
REFUSED_MESSAGE = "Must not contain control, format or line/paragraph separator characters."
TICKET_KEY_MAX = 255  # NFKC may lengthen a reference (a ligature becomes letters); the column holds this much

# Dash-like characters a ticket reference may be typed with (category Pd, and U+2212 MINUS SIGN, which looks
# the same): all compare as '-'. NFKC alone maps only the full-width and small forms.
DASHES = ("\u002d\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40"
          "\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead\u2212")
_TO_HYPHEN = str.maketrans(dict.fromkeys(DASHES, "-"))


def _escape(code_point: int) -> str:
    """One code point as a regex class member that Python, Rust and ECMA-262 (with the u flag) read alike."""
    # BMP as \uXXXX; above it the character itself (no escape for it is common to Python and ECMA-262).
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else chr(code_point)


def refused_class(*, allow: str = "", bmp_only: bool = False) -> str:
    """The contents of a regex character class (no brackets) naming every refused character but `allow`.

    `bmp_only` leaves out those above U+FFFF, for the OpenAPI document: schemathesis (4.32) rewrites a pattern
    holding them into `\\U0001...` escapes, which no ECMA-262 reader takes, and then declines the operation.
    """
    members: list[str] = []
    for start, end in _without(REFUSED_RANGES, {ord(c) for c in allow}):
        if bmp_only and start > 0xFFFF:
            continue
        members.append(_escape(start) if start == end else f"{_escape(start)}-{_escape(end)}")
    return "".join(members)


def _without(ranges: tuple[tuple[int, int], ...], allowed: set[int]) -> list[tuple[int, int]]:
    """The ranges with the allowed code points cut out."""
    result: list[tuple[int, int]] = []
    for start, end in ranges:
        run_start = start
        for code_point in range(start, end + 1):
            if code_point in allowed:
                if run_start < code_point:
                    result.append((run_start, code_point - 1))
                run_start = code_point + 1
        if run_start <= end:
            result.append((run_start, end))
    return result


_REFUSED = re.compile(f"[{refused_class()}\ud800-\udfff]")
_REFUSED_IN_LINES = re.compile(f"[{refused_class(allow=LINE_BREAKS)}\ud800-\udfff]")


def refused_character(text: str) -> str | None:
    """The first character free text may not hold (a lone surrogate counts), or None."""
    found = _REFUSED.search(text)
    return found.group() if found else None


def check_free_text(field: str, text: str) -> str:
    """The text, or ValidationFailed naming the field when it holds a refused character."""
    if refused_character(text) is not None:
        raise ValidationFailed(details={field: [REFUSED_MESSAGE]})
    return text


def ticket_key(ticket_ref: str) -> str:
    """What ticket references are compared by: NFKC, dashes as '-', case folded, whitespace trimmed and single.

    Refused characters are dropped (they are refused on the way in; a key never depends on something unseen).
    """
    text = unicodedata.normalize("NFKC", _REFUSED.sub("", ticket_ref)).translate(_TO_HYPHEN)
    text = unicodedata.normalize("NFKC", text.casefold()).translate(_TO_HYPHEN)
    return " ".join(text.split())


def check_ticket_ref(ticket_ref: str) -> str:
    """The key of a ticket reference a contact is started with, or ValidationFailed naming `ticket_ref`."""
    check_free_text("ticket_ref", ticket_ref)
    key = ticket_key(ticket_ref)
    if not key or len(key) > TICKET_KEY_MAX:
        raise ValidationFailed(details={"ticket_ref": ["Must not be blank, nor too long once normalised."]})
    return key


def redact(text: str, phrase: str) -> str:
    """The text normalised (NFKC, no refused characters) with `[phrase]` wherever the phrase is, even spelled
    out with separators between its characters (`N M 7 M`, `N-M-7-M`, full-width forms)."""
    normalised = _REFUSED_IN_LINES.sub("", unicodedata.normalize("NFKC", text))
    # Anything but a letter or digit may stand between the phrase's characters.
    pattern = r"[\W_]*".join(re.escape(c) for c in phrase)
    return re.sub(pattern, "[phrase]", normalised, flags=re.IGNORECASE) if phrase else normalised
