"""Which model field a data path lands on, so an error can name the keys allowed there."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from domain.policy_checks import PolicyPath


def annotation_at(model: type[BaseModel], path: PolicyPath) -> Any | None:
    """The type written for ``path`` inside ``model``; ``None`` when the path leaves the model."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return annotation


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a value of ``annotation`` may be (several for a union)."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if _is_union(annotation):
        return [m for arg in get_args(annotation) for m in models_in(arg)]
    return []


def literals_in(annotation: Any) -> list[Any]:
    """The values a ``Literal`` (or a union holding one) allows."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if _is_union(annotation):
        return [v for arg in get_args(annotation) for v in literals_in(arg)]
    return []


def alternatives(annotation: Any) -> list[str]:
    """How to write a value of a union type, for a message: ``'automatic'``, ``a mapping (...)``."""
    described = [repr(value) for value in literals_in(annotation)]
    for model in models_in(annotation):
        described.append(f"a mapping ({', '.join(model.model_fields)})")
    members = [_unwrap(a) for a in get_args(_unwrap(annotation))] if _is_union(annotation) else []
    if any(get_origin(m) is list for m in members):
        described.append("a list of such mappings")
    if int in members:
        described.append("a number")
    return described


def has_list_member(annotation: Any) -> bool:
    """Whether a union may be a list (``approvers``: a list of steps), so a list written there
    is meant for that member."""
    if not _is_union(_unwrap(annotation)):
        return False
    return any(get_origin(_unwrap(a)) is list for a in get_args(_unwrap(annotation)))


def _step(annotation: Any, part: str | int) -> Any | None:
    annotation = _unwrap(annotation)
    if _is_union(annotation):
        found = (_step(arg, part) for arg in get_args(annotation))
        return next((a for a in found if a is not None), None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin = get_origin(annotation)
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return None


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)
