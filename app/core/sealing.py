"""Credentials waiting in the outbox are encrypted; the relay wipes them once delivered.

The key comes from ``CREDENTIALS_KEY`` (README, "Keys"): new messages are sealed with it, and
messages sealed under an earlier key still open with any key in ``CREDENTIALS_KEYS_OLD``
(Fernet tokens, tried key by key with ``MultiFernet``). It is never stored beside the data it
protects, so a copied database holds only ciphertext.

Without ``CREDENTIALS_KEY`` the key is derived from the app-level token, with a warning at
start-up: rotating that token then makes every queued credentials message unreadable. Such a
message is not lost silently: the relay hands it to the granting worker, which resets the
password and sends the credentials again (``app/granting/redelivery.py``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import Settings

_log = logging.getLogger(__name__)

_INFO: Final = b"jit-access-bot credentials outbox v1"
"""The label of the key derived from the app-level token (unchanged: messages sealed by earlier
versions still open)."""
_KEY_INFO: Final = b"jit-access-bot credentials key v1"
"""The label of the key derived from ``CREDENTIALS_KEY``: the same bytes used as ``AUDIT_KEY``
too would still give unrelated keys."""


class SealError(Exception):
    """A sealed payload could not be opened (wrong key, tampered); it is never shown."""


def _fernet_key(secret: bytes, *, info: bytes) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return base64.urlsafe_b64encode(raw)


class Sealer:
    def __init__(self, *, key: bytes, old: Sequence[bytes] = ()) -> None:
        """``key`` seals and opens; each of ``old`` (Fernet keys too) still opens."""
        self._fernet = MultiFernet([Fernet(key), *(Fernet(k) for k in old)])

    @classmethod
    def derived_from(cls, *, secret: str) -> Sealer:
        """The key derived from the app-level token (``CREDENTIALS_KEY`` unset)."""
        return cls(key=_fernet_key(secret.encode(), info=_INFO))

    @classmethod
    def from_secrets(cls, *, current: bytes, old: Sequence[bytes] = ()) -> Sealer:
        """Keys from raw secrets of 32+ bytes (``CREDENTIALS_KEY``, ``CREDENTIALS_KEYS_OLD``)."""
        return cls(
            key=_fernet_key(current, info=_KEY_INFO),
            old=[_fernet_key(k, info=_KEY_INFO) for k in old],
        )

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


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of the configured keys (README, "Keys").

    With ``CREDENTIALS_KEY`` set, the key derived from the current app-level token is one more
    old key, so messages queued before the key was first set still open. Without it, that
    derived key seals, with a warning: a token rotation then strands queued credentials."""
    current, old = settings.credentials_secrets()
    app_token = settings.slack_app_token.get_secret_value()
    derived = _fernet_key(app_token.encode(), info=_INFO)
    older = [_fernet_key(k, info=_KEY_INFO) for k in old]
    if current is None:
        _log.warning(
            "CREDENTIALS_KEY is not set: credentials waiting to be sent are sealed with a key "
            "derived from SLACK_APP_TOKEN; rotating that token makes them unreadable, and each "
            "is then reset and sent again (README, 'Keys')"
        )
        return Sealer(key=derived, old=older)
    return Sealer(key=_fernet_key(current, info=_KEY_INFO), old=[*older, derived])
