"""Key ring, AES-GCM sealing of PINs, and hashing of API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from verify_service.domain.model import SealedSecret
from verify_service.errors import ConfigError, DependencyUnavailable

log = logging.getLogger(__name__)

KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_SECRET_CHARS = 32
NONCE_BYTES = 12


def _derive(secret: str) -> bytes:
    """A 256-bit AES key from an operator's secret string."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"verify-service/pin-key/v1")
    return hkdf.derive(secret.encode())


def parse_key_ring(raw: str) -> list[tuple[str, bytes]]:
    """`id:secret,id:secret`, newest first; a ConfigError names what is wrong."""
    ring: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in raw.split(",")):
        key_id, sep, secret = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise ConfigError("VERIFY_PIN_KEYS entries must look like KEYID:SECRET, comma-separated, newest first")
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"VERIFY_PIN_KEYS key {key_id!r} is shorter than {MIN_SECRET_CHARS} characters")
        if any(existing == key_id for existing, _ in ring):
            raise ConfigError(f"VERIFY_PIN_KEYS names key {key_id!r} twice")
        ring.append((key_id, _derive(secret)))
    return ring


class AesGcmPinVault:
    """Seals PINs with AES-256-GCM under the newest key; opens with any key of the ring."""

    def __init__(self, ring: list[tuple[str, bytes]]):
        if not ring:
            raise ConfigError("VERIFY_PIN_KEYS holds no key")
        self._newest = ring[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in ring}

    @classmethod
    def from_setting(cls, raw: str) -> AesGcmPinVault:
        """Build the vault from the VERIFY_PIN_KEYS value."""
        return cls(parse_key_ring(raw))

    def newest_key_id(self) -> str:
        """The key that new seals use."""
        return self._newest

    @staticmethod
    def _aad(account_id: str, key_id: str) -> bytes:
        """Bind a sealed PIN to its account, so rows cannot be swapped."""
        return f"pin|{key_id}|{account_id}".encode()

    def seal(self, account_id: str, pin: str) -> SealedSecret:
        """Encrypt under the newest key."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = self._keys[self._newest].encrypt(nonce, pin.encode(), self._aad(account_id, self._newest))
        return SealedSecret(self._newest, nonce + blob)

    def open(self, account_id: str, sealed: SealedSecret) -> str:
        """Decrypt with the key that sealed it; fail closed if it is gone or the blob was altered."""
        key = self._keys.get(sealed.key_id)
        if key is None:
            log.error("PIN key %r is not in VERIFY_PIN_KEYS; cannot open a sealed PIN", sealed.key_id)
            raise DependencyUnavailable("A key needed to check this PIN is not configured.", retry_after=60)
        nonce, blob = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return key.decrypt(nonce, blob, self._aad(account_id, sealed.key_id)).decode()
        except InvalidTag:
            log.error("sealed PIN of an account failed authentication (altered or wrong key)")
            raise DependencyUnavailable("A stored PIN could not be read.", retry_after=60) from None

    def matches(self, account_id: str, sealed: SealedSecret, candidate: str) -> bool:
        """Constant-time comparison of the candidate with the sealed PIN."""
        return hmac.compare_digest(self.open(account_id, sealed).encode(), candidate.encode())


def new_api_key() -> str:
    """A fresh API key: 256 bits from the CSPRNG."""
    return f"vk_{secrets.token_urlsafe(32)}"


def hash_api_key(key: str) -> str:
    """SHA-256 of a high-entropy key (a slow hash buys nothing at 256 bits)."""
    return hashlib.sha256(key.encode()).hexdigest()
