"""Every view a unit test renders is also rendered by slack_sdk's own ``to_dict()``, which
validates it: the fast reading in :func:`blocks.kit.as_dict` must give exactly the same JSON."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.basic_objects import JsonObject

from blocks import kit

_fast_dump = kit._dump


def _dump_checked_against_slack_sdk(model: JsonObject) -> dict[str, Any]:
    fast = _fast_dump(model)
    assert fast == model.to_dict(), f"kit.as_dict differs from to_dict() for {model!r}"
    return fast


@pytest.fixture(autouse=True)
def _views_as_slack_sdk_renders_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit, "_dump", _dump_checked_against_slack_sdk)
