"""Admin-login health in the Admin section and unavailable integrations in the request modal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from blocks.admin import AdminHome, HealthLine, admin_section
from blocks.admin.rows import health_text
from blocks.request_modal import BundleChoice, BundleDetail, RequestModal, request_modal
from domain.catalog import IntegrationShare
from domain.drafts import Mode
from slacksim.limits import check_view

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = f"<!date^{int(NOW.timestamp())}^"
LACKS = "The admin login lacks CREATEROLE, needed to create temporary accounts."

EMPTY_HOME = AdminHome(bundles=(), bundle_total=0, flows=(), flow_total=0, integrations=())


def test_a_passing_login_is_a_check_mark_with_its_name_type_and_check_time() -> None:
    line = health_text(HealthLine("prod-pg", "postgresql", problems=(), checked_at=NOW))
    assert line.startswith("✅ *prod-pg* (postgresql) · checked " + TOKEN)


def test_a_failing_login_is_a_warning_with_every_sentence_and_its_check_time() -> None:
    line = health_text(HealthLine("prod-pg", "postgresql", problems=(LACKS, "b."), checked_at=NOW))
    assert line.startswith(f"⚠️ *prod-pg*: {LACKS}; b. · checked {TOKEN}")


def test_a_login_not_checked_yet_is_a_warning_without_a_time() -> None:
    line = health_text(HealthLine("prod-pg", "postgresql", problems=("not checked yet",)))
    assert line == "⚠️ *prod-pg*: not checked yet"


def test_the_admin_section_shows_ten_logins_and_counts_the_failing_rest_within_slacks_limits() -> (
    None
):
    many = tuple(
        HealthLine(f"i{i:03d}", "redis", problems=(("x" * 400,) if i % 2 else ()), checked_at=NOW)
        for i in range(40)
    )
    blocks = [b.to_dict() for b in admin_section(replace(EMPTY_HOME, health=many))]
    section = next(b for b in blocks if b.get("block_id") == "admin.health")
    assert "…and 30 more integrations (15 failing)" in section["text"]["text"]
    assert check_view({"type": "home", "blocks": blocks}, expect_type="home") == []


def test_the_admin_section_has_no_login_health_without_lines() -> None:
    blocks = [b.to_dict() for b in admin_section(EMPTY_HOME)]
    assert all(b.get("block_id") != "admin.health" for b in blocks)


def test_an_unavailable_share_has_no_select_button_and_says_why_in_one_line() -> None:
    shares = (
        IntegrationShare("prod-pg", 3, ("read_only",)),
        IntegrationShare("cache", 2, ("read_only",)),
    )
    model = RequestModal(
        draft_key="draft-key-0000000001",
        mode=Mode.BUNDLE,
        limit=5_000,
        bundles=(BundleChoice("b", ""),),
        bundle=BundleDetail(
            name="b", description="", total=5, shares=shares, unavailable={"prod-pg": LACKS}
        ),
    )

    view = request_modal(model)

    dumped = json.dumps(view, ensure_ascii=False)
    assert "modal.select_integration:prod-pg" not in dumped
    assert "modal.select_integration:cache" in dumped
    assert "Select all 2" in dumped
    share = next(b for b in view["blocks"] if b.get("block_id") == "share.prod-pg")
    assert share["text"]["text"].splitlines()[0] == (
        "⚠️ *prod-pg* is unavailable: The admin login lacks CREATEROLE, needed to create "
        "temporary accounts."
    )
    assert check_view(view, expect_type="modal") == []
