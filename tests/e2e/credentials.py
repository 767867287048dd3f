"""Reading delivered credentials out of a DM, the way a person copies them."""

from __future__ import annotations

import re

from app.integrations.base import AccessDetails
from slacksim import Message, texts_of

_FIELD = re.compile(r"\*([^*]+)\*: `([^`]*)`")


def credentials_in(message: Message) -> AccessDetails:
    fields = {
        k.lower().replace(" ", "_"): v
        for k, v in _FIELD.findall(" ".join(texts_of(message.blocks)))
    }
    return AccessDetails(fields=fields, secret_fields=frozenset({"password"}))


def credential_dms(messages: list[Message], request_id: str) -> dict[str, AccessDetails]:
    """Integration name → access details, from the requester's DMs."""
    found: dict[str, AccessDetails] = {}
    for message in messages:
        text = " ".join(texts_of(message.blocks))
        match = re.search(r"Access details for \*([^*]+)\* \((AR-[0-9A-Z]{6})\)", text)
        if match and match.group(2) == request_id:
            found[match.group(1)] = credentials_in(message)
    return found
