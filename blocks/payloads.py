"""What travels through Slack and comes back: small typed models, parsed before use.

``private_metadata`` carries a draft key, never the selection; button values carry a request ID.
Each encodes to far less than :data:`blocks.limits.OPTION_VALUE` characters.
Anything that does not parse is refused by the listener.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DraftKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,32}$")]
RequestRef = Annotated[str, Field(pattern=r"^AR-[0-9A-Z]{6}$")]


class Payload(BaseModel):
    """A value the bot puts into Slack and reads back: encoded compactly, parsed strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def parse(cls, text: str | None) -> Self | None:
        """The value, or ``None`` for anything that does not parse (a forged or stale one)."""
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return None


class ModalMetadata(Payload):
    """``private_metadata`` of the request modal."""

    d: DraftKey


class RequestButton(Payload):
    """Value of a button acting on one request (approve, deny, cancel, revoke, ...).

    ``f`` names the request's access flow: a click whose flow does not match the request's is
    refused, so a value copied from another flow's message cannot be replayed here.
    """

    r: RequestRef
    f: Annotated[str, Field(max_length=64)] | None = None


class ExtensionButton(Payload):
    """Value of an extension's Approve / Deny button: the request, the extension and its flow
    (refused when they do not match, like :class:`RequestButton`)."""

    r: RequestRef
    e: Annotated[int, Field(ge=1)]
    f: Annotated[str, Field(max_length=64)] | None = None


class PageButton(Payload):
    """Value of a paging button: which request (if any) and which page."""

    r: RequestRef | None = None
    p: Annotated[int, Field(ge=0, le=100_000)]
    f: Annotated[str, Field(max_length=40)] | None = None


class ObjectOption(Payload):
    """Option value of a bundle object in the typeahead: its catalog key."""

    o: Annotated[int, Field(ge=1)]


class FavoriteRef(Payload):
    """Value of a button acting on one favorite, and ``private_metadata`` of its rename modal.
    Whose it is is checked on the server: a forged ID of someone else's favorite does nothing."""

    v: Annotated[int, Field(ge=1)]


class SaveFavoriteMetadata(Payload):
    """``private_metadata`` of the *Save as favorite* modal: the request it saves."""

    r: RequestRef
