"""The sentences the listeners used to compose, now built in blocks/, read as before."""

from __future__ import annotations

from blocks.decisions import REVOKE_USAGE, approved, canceled, revoking
from blocks.help import HELP, report_preparing, unknown_command
from blocks.home import row_canceled
from blocks.request_modal import request_submitted
from blocks.simple import refused
from domain.lifecycle import Status


def _text(view: dict[str, object]) -> str:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    text: str = blocks[0]["text"]["text"]
    return text


def test_the_submitted_modal_says_what_was_asked_and_what_happens_next() -> None:
    pending = request_submitted(
        request_id="AR-7K3Q9M",
        object_count=1_200,
        bundle="prod-incident",
        status=Status.PENDING,
        approvers=[f"U{i:07d}" for i in range(12)],
    )
    lines = _text(pending).splitlines()
    assert lines[0] == "✅ Request *AR-7K3Q9M* submitted."
    assert lines[1] == "1,200 objects of bundle *prod-incident*"
    assert lines[2].startswith("Waiting for approval by <@U0000000>, ")
    assert lines[2].count("<@") == 10
    assert lines[2].endswith(". You'll get a DM at each change.")

    automatic = request_submitted(
        request_id="AR-7K3Q9M", object_count=3, bundle=None, status=Status.APPROVED, approvers=()
    )
    assert _text(automatic).splitlines()[1:] == [
        "3 objects",
        "Approved automatically; your access details arrive in a DM shortly.",
    ]
    failed = request_submitted(
        request_id="AR-7K3Q9M", object_count=3, bundle=None, status=Status.FAILED, approvers=()
    )
    assert _text(failed).splitlines()[2] == (
        "It could not be sent for approval: nobody but you could approve it."
    )


def test_the_short_answers() -> None:
    assert refused("Only admins can do that.") == "⛔ Only admins can do that."
    assert approved("AR-7K3Q9M") == "✅ You approved AR-7K3Q9M."
    assert canceled("AR-7K3Q9M") == "↩️ You canceled AR-7K3Q9M."
    assert row_canceled("AR-7K3Q9M") == "↩️ AR-7K3Q9M canceled."
    assert revoking("AR-7K3Q9M") == (
        "🔒 Revoking AR-7K3Q9M: its access is being removed now; the requester gets a DM when "
        "it's gone."
    )
    assert REVOKE_USAGE.startswith("Usage: `/apono revoke AR-XXXXXX`")
    assert unknown_command("x" * 40) == f"I don't know `{'x' * 30}`.\n\n{HELP}"
    assert report_preparing(None) == (
        "📄 Preparing your report; I'll send it to you in a DM as a CSV file."
    )
    assert report_preparing("last 7d") == (
        "📄 Preparing your report (`last 7d`); I'll send it to you in a DM as a CSV file."
    )
