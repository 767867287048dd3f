"""Bundles and flows as the catalog holds them: versioned, with their objects counted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from domain.objects import AccessObject
from domain.policy import AccessFlow


class Source(StrEnum):
    """Where a bundle or flow is defined: the policy file (read-only in Slack) or Slack."""

    FILE = "file"
    SLACK = "slack"


@dataclass(frozen=True, slots=True)
class Bundle:
    key: int
    name: str
    description: str
    version: int
    source: Source
    object_count: int


@dataclass(frozen=True, slots=True)
class IntegrationShare:
    """The part of a bundle that lives in one integration."""

    integration: str
    count: int
    permissions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogObject:
    """An object of a bundle, with the catalog key a picker uses as its option value."""

    key: int
    object: AccessObject


@dataclass(frozen=True, slots=True)
class FlowRecord:
    flow: AccessFlow
    version: int
    source: Source


def spec_digest(spec: BaseModel) -> str:
    """A digest of a bundle or flow as written, to tell whether the file changed it."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def content_digest(objects: Iterable[AccessObject]) -> str:
    """Same objects, same digest, whatever their order."""
    digest = hashlib.sha256()
    for obj in sorted(set(objects)):
        digest.update(f"{obj.integration}\x1f{obj.resource}\x1f{obj.permission}\x1e".encode())
    return digest.hexdigest()
