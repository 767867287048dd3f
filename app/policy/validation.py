"""pydantic's validation errors, rewritten as problems an admin can act on.

pydantic locates an error by a ``loc`` that mixes data keys with the names of union members
(``approvers.Approvers.users``) and reports every member of a failed union. Here each ``loc`` is
walked along the data to recover the plain data path, one union failure becomes one message about
what the admin wrote, and messages name the key and what is allowed there. Values are only quoted
where they cannot be secrets.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from app.policy.model_paths import (
    alternatives,
    annotation_at,
    has_list_member,
    literals_in,
    models_in,
)
from domain.policy_checks import PolicyPath, Severity

_NAME_RULE: Final = "letters, digits, '.', '_' and '-', starting with a letter or digit, ≤ 63 long"
_MISSING: Final = object()

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation error at a plain data path (relative to the validated data)."""

    path: PolicyPath
    code: str
    message: str
    hint: str = ""
    at_key: bool = False
    """Locate at the key rather than its value (an unknown key, a bad dictionary key)."""
    severity: Severity = "error"


def validated(
    model: type[ModelT], data: Any, *, quote_values: bool = True
) -> tuple[ModelT | None, list[Issue]]:
    """``data`` as a ``model``, or every issue with it; ``quote_values=False`` where values are
    secrets (a connection)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, issues_from(exc, model=model, data=data, quote_values=quote_values)


def issues_from(
    exc: ValidationError, *, model: type[BaseModel], data: Any, quote_values: bool = True
) -> list[Issue]:
    raw = [_Raw.of(error, data) for error in exc.errors(include_url=False, include_input=False)]
    describe = _Describer(model=model, data=data, quote_values=quote_values)
    issues = [describe(r) for r in _one_per_union(raw, data, model=model)]
    return list(dict.fromkeys(issues))


@dataclass(frozen=True, slots=True)
class _Raw:
    path: PolicyPath
    code: str
    message: str
    context: dict[str, Any]
    at_key: bool
    union_at: PolicyPath | None
    """Set when ``loc`` went through a union member: the path of the union's value."""

    @classmethod
    def of(cls, error: Any, data: Any) -> _Raw:
        path: list[str | int] = []
        union_at: PolicyPath | None = None
        at_key = False
        current = data
        loc = error["loc"]
        for index, part in enumerate(loc):
            if part == "[key]":
                at_key = True
            elif _has(current, part):
                path.append(part)
                current = current[part]
            elif index == len(loc) - 1 and error["type"] == "missing":
                path.append(part)  # not in the data, by definition
            else:
                union_at = tuple(path)  # a union member's name, not part of the data
        return cls(
            path=tuple(path),
            code=error["type"],
            message=error["msg"],
            context=dict(error.get("ctx") or {}),
            at_key=at_key,
            union_at=union_at,
        )


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _one_per_union(raw: list[_Raw], data: Any, *, model: type[BaseModel]) -> Iterator[_Raw]:
    """A mapping was meant for the model member, a list for a list member, anything else for a
    literal member; report
    against the member the admin meant, and a wrong kind of value once."""
    seen_kind_errors: set[PolicyPath] = set()
    for error in raw:
        if error.union_at is None:
            yield error
            continue
        written = _value_at(data, error.union_at)
        at_union = error.path == error.union_at
        if isinstance(written, dict):
            if not (at_union and error.code in ("literal_error", "list_type")):
                yield error
        elif isinstance(written, list) and has_list_member(annotation_at(model, error.union_at)):
            # A list was meant for the list member (approval steps): its items' own errors.
            if not at_union or error.code == "too_short":
                yield error
        elif at_union and error.union_at not in seen_kind_errors:
            seen_kind_errors.add(error.union_at)
            yield _Raw(error.union_at, "union_type", "", {}, False, None)


def _value_at(data: Any, path: PolicyPath) -> Any:
    for part in path:
        if not _has(data, part):
            return _MISSING
        data = data[part]
    return data


@dataclass(frozen=True, slots=True)
class _Describer:
    model: type[BaseModel]
    data: Any
    quote_values: bool

    def __call__(self, error: _Raw) -> Issue:
        path, code = error.path, error.code
        label = label_of(path)
        message, hint = f"{label}: {_lower_first(error.message)}", ""
        if code == "extra_forbidden":
            message, hint = f"unknown key {path[-1]!r}", self._allowed_keys(path)
        elif code == "missing":
            message = f"missing required key {path[-1]!r}"
        elif code == "value_error":
            message = f"{label}: {error.message.removeprefix('Value error, ')}"
        elif code == "union_type":
            message = f"{label}: expected {' or '.join(alternatives(self._annotation(path)))}"
        elif code == "literal_error":
            message = f"{label}: expected {error.context.get('expected', 'another value')}"
            hint = self._did_you_mean(path)
        elif code == "too_short" and error.context.get("min_length") == 1:
            message = f"{label}: must not be empty"
        elif error.at_key:
            message = f"key {path[-1]!r}: {_lower_first(error.message)}"
        elif code in ("model_type", "model_attributes_type", "dict_type"):
            message = f"{label}: expected a mapping"
            models = models_in(self._annotation(path))
            hint = f"keys: {', '.join(models[0].model_fields)}" if models else ""
        elif code == "list_type":
            message = f"{label}: expected a list"
            value = _value_at(self.data, path)
            if self.quote_values and isinstance(value, str | int | float):
                hint = f"write [{value}] for a list of one"
        elif code == "string_pattern_mismatch" and self.quote_values:
            value = _value_at(self.data, path)
            message, hint = f"{label}: {value!r} is not a valid name", f"use {_NAME_RULE}"
        return Issue(path=path, code=code, message=message, hint=hint, at_key=error.at_key)

    def _annotation(self, path: PolicyPath) -> Any:
        return annotation_at(self.model, path)

    def _allowed_keys(self, path: PolicyPath) -> str:
        models = models_in(self._annotation(path[:-1])) if path[:-1] else [self.model]
        allowed = [name for model in models for name in model.model_fields]
        if not allowed:
            return ""
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        return f"did you mean {close[0]!r}?" if close else f"allowed here: {', '.join(allowed)}"

    def _did_you_mean(self, path: PolicyPath) -> str:
        value = _value_at(self.data, path)
        allowed = [str(v) for v in literals_in(self._annotation(path))]
        if not isinstance(value, str) or not allowed:
            return ""
        close = difflib.get_close_matches(value.lower(), allowed, n=1)
        return f"did you mean {close[0]!r}?" if close else ""


def label_of(path: PolicyPath) -> str:
    """The last key with any list indexes after it: ``default``, ``admins[2]``."""
    label = ""
    for part in reversed(path):
        if isinstance(part, int):
            label = f"[{part}]{label}"
        else:
            return f"{part}{label}"
    return f"the policy{label}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
