"""Credentials waiting in the outbox are encrypted; the relay wipes them once delivered.

The key comes from ``CREDENTIALS_KEY`` or, by default, is derived from the app-level token, so
it is never stored beside the data it protects (a copied database holds only ciphertext).
"""

from __future__ import annotations

import base64
import json
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO: Final = b"jit-access-bot credentials outbox v1"


class SealError(Exception):
    """A sealed payload could not be opened (wrong key, tampered); it is never shown."""


class Sealer:
    def __init__(self, *, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def derived_from(cls, *, secret: str) -> Sealer:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret.encode()
        )
        return cls(key=base64.urlsafe_b64encode(raw))

    def seal(self, payload: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            value = json.loads(self._fernet.decrypt(sealed))
        except (InvalidToken, ValueError) as error:
            raise SealError("sealed payload cannot be opened") from error
        if not isinstance(value, dict):
            raise SealError("sealed payload is not an object")
        return value
