"""Every callback, action and block ID the app uses, so listeners and builders cannot drift."""

from __future__ import annotations

import re
from enum import StrEnum


class CallbackId(StrEnum):
    REQUEST = "request_modal"
    REQUEST_DONE = "request_done"
    DENY_REASON = "deny_reason"
    APPROVE_REASON = "approve_reason"
    OBJECT_LIST = "object_list"
    HOME_DETAIL = "home_detail"
    HISTORY = "history"
    FAVORITE_SAVE = "favorite_save"
    FAVORITE_RENAME = "favorite_rename"


class ActionId(StrEnum):
    # request modal
    MODE_BUNDLE = "modal.mode.bundle"
    MODE_INTEGRATIONS = "modal.mode.integrations"
    PICK_BUNDLE = "modal.bundle"
    SELECT_ALL = "modal.select_all"
    SELECT_INTEGRATION = "modal.select_integration"
    CLEAR = "modal.clear"
    CLEAR_INTEGRATION = "modal.clear_integration"
    ADD_OBJECT = "modal.add_object"
    PICK_FLOW = "modal.flow"
    DURATION = "modal.duration"
    JUSTIFICATION = "modal.justification"
    PICK_INTEGRATION = "modal.integration"
    PICK_RESOURCE = "modal.resource"
    PICK_PERMISSION = "modal.permission"
    ADD_PLAIN = "modal.add_plain"
    BREAK_GLASS = "modal.break_glass"
    ON_BEHALF = "modal.on_behalf"
    START_RECENT = "modal.start.recent"
    START_FAVORITE = "modal.start.favorite"
    # approval and status messages
    APPROVE = "request.approve"
    DENY = "request.deny"
    DENY_REASON = "request.deny_reason"
    APPROVE_WITH_COMMENT = "request.approve_comment"
    APPROVE_REASON = "request.approve_reason"
    SHOW_OBJECTS = "request.show_objects"
    OBJECTS_PAGE = "request.objects_page"
    CANCEL = "request.cancel"
    REVOKE = "request.revoke"
    REQUEST_AGAIN = "request.again"
    # extensions (README, "Extending access")
    EXTEND = "request.extend"
    EXTEND_APPROVE = "extension.approve"
    EXTEND_DENY = "extension.deny"
    ACKNOWLEDGE = "break_glass.acknowledge"
    SAVE_FAVORITE = "request.save_favorite"
    FAVORITE_NAME = "favorite.name"
    # home
    OPEN_REQUEST = "home.open_request"
    HOME_ROW = "home.row"
    HISTORY_PAGE = "history.page"
    HOME_PAGE = "home.page"
    HOME_DETAIL = "home.detail"
    HOME_FILTER_STATUS = "home.filter.status"
    HOME_FILTER_BUNDLE = "home.filter.bundle"
    HOME_FILTER_REQUESTER = "home.filter.requester"
    HOME_FAVORITE_OPEN = "home.favorite.open"
    HOME_FAVORITE_RENAME = "home.favorite.rename"
    HOME_FAVORITE_DELETE = "home.favorite.delete"


class BlockId(StrEnum):
    MODE = "mode"
    BUNDLE = "bundle"
    BUNDLE_SUMMARY = "bundle_summary"
    SELECTION = "selection"
    NOTICE = "notice"
    FLOW = "flow"
    JUSTIFICATION = "justification"
    INTEGRATION = "integration"
    PERMISSION = "permission"
    ADD_PLAIN = "add_plain"
    DENY_REASON = "deny_reason"
    APPROVE_REASON = "approve_reason"
    BREAK_GLASS = "break_glass"
    ON_BEHALF = "on_behalf"
    STARTS = "starts"
    FAVORITE_NAME = "favorite_name"


def scoped(action: ActionId, key: str) -> str:
    """An action ID made unique within a view (one button per row shares one listener)."""
    return f"{action.value}:{key}"


def matching(action: ActionId) -> re.Pattern[str]:
    """What a listener registers to receive ``action`` and every :func:`scoped` variant of it."""
    return re.compile(rf"^{re.escape(action.value)}(?::.*)?$")
