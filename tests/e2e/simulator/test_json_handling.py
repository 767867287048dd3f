"""The simulator's JSON: copies are deep, and what orjson refuses still travels."""

from __future__ import annotations

import json
from typing import Any

import pytest

from slacksim import jsonio
from slacksim.blockkit import clone

BEYOND_64_BITS = 2**70


def test_a_copy_shares_nothing_with_the_original() -> None:
    original: dict[str, Any] = {
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "é ✓"}}]
    }

    copy = clone(original)
    copy["blocks"][0]["text"]["text"] = "changed"

    assert original["blocks"][0]["text"]["text"] == "é ✓"
    assert copy != original


def test_integers_beyond_64_bits_are_encoded_and_read_back() -> None:
    payload = {"value": BEYOND_64_BITS, "nested": [{"n": -BEYOND_64_BITS}]}

    assert clone(payload) == payload
    assert json.loads(jsonio.dumps(payload)) == payload


def test_text_comes_out_as_the_standard_library_reads_it() -> None:
    payload = {"text": 'quotes " and \\ and\nnewlines', "emoji": "🔐", "none": None}

    assert json.loads(jsonio.dumps(payload)) == payload
    assert jsonio.loads(json.dumps(payload)) == payload


def test_bad_json_raises_the_standard_librarys_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonio.loads(b"{not json")
