"""What travels through Slack: action and callback IDs, row IDs, and button/metadata payloads."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from blocks.payloads import Payload
from domain.policy import Name


class AdminAction(StrEnum):
    NEW_BUNDLE = "admin.bundle.new"
    BUNDLE_MENU = "admin.bundle.menu"
    ALL_BUNDLES = "admin.bundles.all"
    ALL_FLOWS = "admin.flows.all"
    LIST_PAGE = "admin.list.page"
    FLOW_MENU = "admin.flow.menu"
    EDIT_NAME = "admin.edit.name"
    EDIT_DESCRIPTION = "admin.edit.description"
    EDIT_INTEGRATION = "admin.edit.integration"
    EDIT_RESOURCE = "admin.edit.resource"
    EDIT_PATTERN = "admin.edit.pattern"
    EDIT_PERMISSION = "admin.edit.permission"
    EDIT_ADD = "admin.edit.add"
    EDIT_REMOVE = "admin.edit.remove"
    EDIT_REMOVE_ONE = "admin.edit.remove_one"
    EDIT_CLEAR = "admin.edit.clear"
    FLOW_TOGGLE = "admin.flow.toggle"
    FLOW_ADD_BUNDLE = "admin.flow.add_bundle"
    FLOW_REMOVE_BUNDLE = "admin.flow.remove_bundle"


class AdminCallback(StrEnum):
    LIST = "admin.list"
    EDITOR = "admin.bundle.editor"
    REVIEW = "admin.bundle.review"
    DELETE = "admin.bundle.delete"
    FLOW = "admin.flow"
    DONE = "admin.done"


class AdminBlock(StrEnum):
    NAME = "admin.name"
    DESCRIPTION = "admin.description"
    INTEGRATION = "admin.integration"
    CONTENTS = "admin.contents"


class BundleChoice(StrEnum):
    """Options of a bundle row's menu (the bundle itself is named by the action ID)."""

    EDIT = "edit"
    DELETE = "delete"


class FlowChoice(StrEnum):
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    BUNDLES = "bundles"


def row_action(action: AdminAction, key: str) -> str:
    """An action ID unique within a view: one listener serves every row (as ``blocks.ids``)."""
    return f"{action.value}:{key}"


def row_matching(action: AdminAction) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(action.value)}(?::.*)?$")


def row_key(action_id: str) -> str | None:
    """The row a :func:`row_action` ID names, if it names one."""
    _, colon, key = action_id.partition(":")
    return key if colon and key else None


class BundleRef(Payload):
    """A bundle named in a button value or in the delete confirmation's private_metadata."""

    b: Name


class FlowRef(Payload):
    """A flow (and, for a bundle button, which bundle) or the state a toggle asks for."""

    f: Name
    b: Name | None = None
    on: bool | None = None


class ListPage(Payload):
    k: Literal["bundles", "flows"]
    p: Annotated[int, Field(ge=0, le=100_000)] = 0
