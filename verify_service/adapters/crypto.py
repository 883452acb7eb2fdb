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


def _derive(secret: str, purpose: bytes = b"verify-service/pin-key/v1") -> bytes:
    """A 256-bit key for one purpose from an operator's secret string."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret.encode())


def parse_key_ring(raw: str, name: str = "VERIFY_PIN_KEYS") -> list[tuple[str, bytes]]:
    """`id:secret,id:secret`, newest first; a ConfigError names what is wrong."""
    ring: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in raw.split(",")):
        key_id, sep, secret = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise ConfigError(f"{name} entries must look like KEYID:SECRET, comma-separated, newest first")
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"{name} key {key_id!r} is shorter than {MIN_SECRET_CHARS} characters")
        if any(existing == key_id for existing, _ in ring):
            raise ConfigError(f"{name} names key {key_id!r} twice")
        ring.append((key_id, secret.encode()))
    return ring


class KeyRingVault:
    """Seals secrets (PINs, TOTP secrets, queued messages) with AES-256-GCM and MACs one-time codes.

    Every key of VERIFY_PIN_KEYS yields one AES key and one HMAC key (HKDF);
    new work uses the newest key, old work opens with the key that made it.
    """

    def __init__(self, ring: list[tuple[str, bytes]]):
        if not ring:
            raise ConfigError("VERIFY_PIN_KEYS holds no key")
        self._newest = ring[0][0]
        self._aes = {key_id: AESGCM(_derive(secret.decode())) for key_id, secret in ring}
        self._mac = {key_id: _derive(secret.decode(), b"verify-service/code-mac/v1") for key_id, secret in ring}

    @classmethod
    def from_setting(cls, raw: str) -> KeyRingVault:
        """Build the vault from the VERIFY_PIN_KEYS value."""
        return cls(parse_key_ring(raw))

    def newest_key_id(self) -> str:
        """The key that new seals use."""
        return self._newest

    @staticmethod
    def _aad(purpose: str, account_id: str, key_id: str) -> bytes:
        """Bind a sealed value to its purpose and account, so rows cannot be swapped."""
        prefix = "pin" if purpose == "pin" else f"{purpose}/v1"
        return f"{prefix}|{key_id}|{account_id}".encode()

    def seal(self, account_id: str, pin: str, *, purpose: str = "pin") -> SealedSecret:
        """Encrypt under the newest key."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        aad = self._aad(purpose, account_id, self._newest)
        return SealedSecret(self._newest, nonce + self._aes[self._newest].encrypt(nonce, pin.encode(), aad))

    def open(self, account_id: str, sealed: SealedSecret, *, purpose: str = "pin") -> str:
        """Decrypt with the key that sealed it; fail closed if it is gone or the blob was altered."""
        key = self._aes.get(sealed.key_id)
        if key is None:
            log.error("key %r is not in VERIFY_PIN_KEYS; cannot open a sealed %s", sealed.key_id, purpose)
            raise DependencyUnavailable("A key needed for this request is not configured.", retry_after=60)
        nonce, blob = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return key.decrypt(nonce, blob, self._aad(purpose, account_id, sealed.key_id)).decode()
        except InvalidTag:
            log.error("a sealed %s failed authentication (altered, swapped or wrong key)", purpose)
            raise DependencyUnavailable("A stored secret could not be read.", retry_after=60) from None

    def matches(self, account_id: str, sealed: SealedSecret, candidate: str) -> bool:
        """Constant-time comparison of the candidate with the sealed PIN."""
        return hmac.compare_digest(self.open(account_id, sealed).encode(), candidate.encode())

    def mac(self, message: str) -> SealedSecret:
        """A keyed MAC (useless without the ring) under the newest key."""
        return SealedSecret(self._newest, hmac.new(self._mac[self._newest], message.encode(), "sha256").digest())

    def macs(self, message: str) -> list[SealedSecret]:
        """The MAC under every key of the ring, newest first (to find a value stored under an older key)."""
        return [SealedSecret(key_id, hmac.new(key, message.encode(), "sha256").digest())
                for key_id, key in self._mac.items()]

    def mac_matches(self, message: str, stored: SealedSecret) -> bool:
        """Recompute with the stored key and compare in constant time."""
        key = self._mac.get(stored.key_id)
        if key is None:
            raise DependencyUnavailable("A key needed for this request is not configured.", retry_after=60)
        return hmac.compare_digest(hmac.new(key, message.encode(), "sha256").digest(), stored.blob)


class AuditSigner:
    """HMAC-SHA256 for the audit hash chain, with keys held outside the database (VERIFY_AUDIT_KEYS).

    Old keys must stay in the ring (newest first) for as long as their events are kept.
    """

    def __init__(self, ring: list[tuple[str, bytes]]):
        self._newest = ring[0][0]
        self._keys = {key_id: _derive(secret.decode(), b"verify-service/audit-chain/v1") for key_id, secret in ring}

    @classmethod
    def from_setting(cls, raw: str) -> AuditSigner:
        """Build from the VERIFY_AUDIT_KEYS value."""
        return cls(parse_key_ring(raw, "VERIFY_AUDIT_KEYS"))

    def newest_key_id(self) -> str:
        """The key new events are chained with."""
        return self._newest

    def sign(self, key_id: str, data: bytes) -> str | None:
        """Hex HMAC of data under key_id, or None when that key is not in the ring."""
        key = self._keys.get(key_id)
        return hmac.new(key, data, hashlib.sha256).hexdigest() if key is not None else None


class ArgonPasswordHasher:
    """People's passwords: argon2id through libpass's CryptContext (bcrypt hashes still verify)."""

    def __init__(self) -> None:
        from passlib.context import CryptContext

        self._context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")

    def hash(self, password: str) -> str:
        """A salted argon2id hash."""
        return str(self._context.hash(password))

    def verify(self, password: str, password_hash: str) -> bool:
        """Constant-time verification; a malformed hash is a mismatch."""
        try:
            return bool(self._context.verify(password, password_hash))
        except (ValueError, TypeError):
            return False


def new_api_key() -> str:
    """A fresh API key: 256 bits from the CSPRNG."""
    return f"vk_{secrets.token_urlsafe(32)}"


def hash_api_key(key: str) -> str:
    """SHA-256 of a high-entropy key (a slow hash buys nothing at 256 bits)."""
    return hashlib.sha256(key.encode()).hexdigest()
