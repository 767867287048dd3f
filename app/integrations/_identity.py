"""What every integration module shares: its name, its type and the permissions it offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class Identity:
    """Base of the integration classes: checks the offered permissions once, at construction.

    ``BUILT_IN`` is what the type can grant; a policy may narrow it. A type without built-in
    levels (the webhook) must be given its permissions.
    """

    TYPE_NAME: ClassVar[str]
    BUILT_IN: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str, permissions: Sequence[str] | None) -> None:
        offered = tuple(permissions) if permissions is not None else self.BUILT_IN
        if not offered:
            raise ValueError(
                f"{name}: an integration of type {self.TYPE_NAME} must list its permissions"
            )
        if self.BUILT_IN and not set(offered) <= set(self.BUILT_IN):
            raise ValueError(f"{name}: permissions must be a subset of {self.BUILT_IN}")
        self._name = name
        self._offered = offered

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_name(self) -> str:
        return self.TYPE_NAME

    def permissions(self) -> Sequence[str]:
        return self._offered
