"""The admin console: a compact Admin section for the Home tab and the modals behind it.

Pure builders from plain view models, one module per view; the names below are the package's
public face, so callers import from ``blocks.admin`` and not from its modules.
"""

from __future__ import annotations

from blocks.admin.editor import bundle_editor, removal_options, resource_options
from blocks.admin.flows import bundle_options, flow_modal
from blocks.admin.ids import (
    AdminAction,
    AdminBlock,
    AdminCallback,
    BundleChoice,
    BundleRef,
    FlowChoice,
    FlowRef,
    ListPage,
    row_action,
    row_key,
    row_matching,
)
from blocks.admin.limits import (
    FILE_EDIT_NOTE,
    FILE_MARKER,
    HOME_ROWS,
    LIST_ROWS,
    MAX_DESCRIPTION,
    MAX_FLOW_BUNDLES_SHOWN,
    MAX_INTEGRATION_LINES,
    MAX_NAME,
    MAX_RESOURCE,
    MAX_SAMPLES,
    MAX_SECTION_BLOCKS,
    MAX_SHARES_SHOWN,
    RECENT_SHOWN,
)
from blocks.admin.models import (
    AdminHome,
    AdminList,
    BundleEditor,
    BundleLine,
    BundleReview,
    DeletePlan,
    FlowEditor,
    FlowLine,
    HealthLine,
    Impact,
    IntegrationLine,
)
from blocks.admin.pieces import (
    ADMIN_TITLE,
    DELETE_TITLE,
    SAVE_TITLE,
    admin_notice,
    changed_modal,
    done_modal,
    refused_modal,
)
from blocks.admin.review import bundle_review, delete_confirmation
from blocks.admin.section import admin_list_modal, admin_section

__all__ = [
    "ADMIN_TITLE",
    "DELETE_TITLE",
    "FILE_EDIT_NOTE",
    "FILE_MARKER",
    "HOME_ROWS",
    "LIST_ROWS",
    "MAX_DESCRIPTION",
    "MAX_FLOW_BUNDLES_SHOWN",
    "MAX_INTEGRATION_LINES",
    "MAX_NAME",
    "MAX_RESOURCE",
    "MAX_SAMPLES",
    "MAX_SECTION_BLOCKS",
    "MAX_SHARES_SHOWN",
    "RECENT_SHOWN",
    "SAVE_TITLE",
    "AdminAction",
    "AdminBlock",
    "AdminCallback",
    "AdminHome",
    "AdminList",
    "BundleChoice",
    "BundleEditor",
    "BundleLine",
    "BundleRef",
    "BundleReview",
    "DeletePlan",
    "FlowChoice",
    "FlowEditor",
    "FlowLine",
    "FlowRef",
    "HealthLine",
    "Impact",
    "IntegrationLine",
    "ListPage",
    "admin_list_modal",
    "admin_notice",
    "admin_section",
    "bundle_editor",
    "bundle_options",
    "bundle_review",
    "changed_modal",
    "delete_confirmation",
    "done_modal",
    "flow_modal",
    "refused_modal",
    "removal_options",
    "resource_options",
    "row_action",
    "row_key",
    "row_matching",
]
