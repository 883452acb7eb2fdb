"""What production accepts as a secret: long, unpredictable, visible, no development default, never reused."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable

MIN_CHARS = 32
MIN_BITS = 128
GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
# Control, format (zero-width, bidi), line and paragraph separators, and spaces other than U+0020.
_INVISIBLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def estimated_bits(secret: str) -> float:
    """Entropy estimated from the characters actually used: length x the Shannon entropy of their frequencies.

    A repeated character counts for nothing and a secret of a few distinct characters for little; a random
    token of 32 bytes (43 URL-safe characters, or 64 hex digits) comes out near 200 and 250 bits.
    """
    length = len(secret)
    return -sum(count * math.log2(count / length) for count in Counter(secret).values()) if length else 0.0


def _folded(text: str) -> str:
    """Compared without regard to case or compatibility forms (full-width letters)."""
    return unicodedata.normalize("NFKC", text).casefold()


def secret_problem(name: str, secret: str, dev_defaults: Iterable[str]) -> str | None:
    """Why one production secret is refused (None when it is fine); never quotes the secret."""
    if any(_folded(default) in _folded(secret) for default in dev_defaults):
        return f"{name} is missing or holds a development default (under any key id, in any case)"
    if any(unicodedata.category(char) in _INVISIBLE or (char.isspace() and char != " ") for char in secret):
        return f"{name} holds invisible or control characters (zero-width, bidi, line breaks); {GENERATE_HINT}"
    if len(secret) < MIN_CHARS:
        return f"{name} must be at least {MIN_CHARS} characters (each key of a ring); {GENERATE_HINT}"
    bits = estimated_bits(secret)
    if bits < MIN_BITS:
        return (f"{name} is too predictable: about {bits:.0f} bits estimated from the characters it uses, "
                f"at least {MIN_BITS} needed; {GENERATE_HINT}")
    return None


def repeated_secrets(named: Iterable[tuple[str, Iterable[str]]]) -> list[str]:
    """One problem per secret that appears again (in another setting, or twice in one ring), naming where."""
    seen: dict[str, str] = {}
    problems = []
    for name, secrets in named:
        for secret in secrets:
            first = seen.get(secret)
            if first is None:
                seen[secret] = name
            elif first == name:
                problems.append(f"{name} holds the same secret twice: every key must be its own")
            else:
                problems.append(f"{first} and {name} share a secret: every key must be its own")
    return problems
