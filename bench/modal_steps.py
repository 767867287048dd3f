"""What the requester does in the modal, each step timed as Slack would see it.

Every step goes through the simulator's public user actions, so the app receives exactly the
envelopes Slack would send; the timed part runs from the envelope leaving the simulator
(``Ack.sent_at``) to the view call arriving there (``ApiCall.at``), or to the ack.
"""

from __future__ import annotations

from typing import Any, Final

from bench.modal_world import REQUESTER
from bench.simcalls import BenchError, fresh_records, wait_for_call
from blocks.ids import ActionId
from slacksim import Ack, Simulator, View

JSON = dict[str, Any]

JUSTIFICATION: Final = "Benchmark: quarterly access review"


def top_view(sim: Simulator) -> View:
    view = sim.top_view(REQUESTER)
    if view is None:
        raise BenchError("the requester has no modal open")
    return view


def open_modal(sim: Simulator) -> float:
    """``/apono`` → ``views.open``, in seconds."""
    fresh_records(sim)
    ack = sim.slash_command(REQUESTER)
    return wait_for_call(sim=sim, method="views.open", since=ack.sent_at).at - ack.sent_at


def _updated(*, sim: Simulator, ack: Ack | None) -> float:
    if ack is None:
        raise BenchError("the element sent no block_actions")
    return wait_for_call(sim=sim, method="views.update", since=ack.sent_at).at - ack.sent_at


def pick_bundle(*, sim: Simulator, bundle: str) -> float:
    """Choose ``bundle`` in the Bundle Mode menu → ``views.update``, in seconds.

    With 200 bundles on offer the menu is an external select, so the chosen option is what a
    suggestion would have returned: the bundle's name as text and value.
    """
    fresh_records(sim)
    option = {"text": {"type": "plain_text", "text": bundle}, "value": bundle}
    ack = sim.select(
        REQUESTER, action_id=ActionId.PICK_BUNDLE, view_id=top_view(sim).id, option=option
    )
    return _updated(sim=sim, ack=ack)


def select_all(sim: Simulator) -> float:
    fresh_records(sim)
    ack = sim.click(REQUESTER, action_id=ActionId.SELECT_ALL, view_id=top_view(sim).id)
    return _updated(sim=sim, ack=ack)


def last_payload(sim: Simulator) -> JSON:
    """The payload of the envelope the simulator sent last (to replay it to the floor)."""
    payload: JSON = sim.envelopes[-1]["payload"]
    return payload


def suggestion_payload(*, sim: Simulator, query: str) -> tuple[JSON, int]:
    """Type ``query`` in the object search once; the envelope Slack sent, and how many options
    came back (the simulator has checked the answer against Slack's limits)."""
    fresh_records(sim)
    found = sim.suggest(
        REQUESTER, view_id=top_view(sim).id, action_id=ActionId.ADD_OBJECT, query=query
    )
    return last_payload(sim), len(found)


def suggest(*, sim: Simulator, payload: JSON, expected: int) -> float:
    """Send a recorded ``block_suggestion`` payload again → ack with options, in seconds."""
    ack = sim.send_envelope(type_="interactive", payload=payload)
    body = ack.payload or {}
    count = len(body.get("options") or []) + sum(
        len(g.get("options") or []) for g in body.get("option_groups") or []
    )
    if count != expected:
        raise BenchError(f"{expected} options expected, the app answered {count}")
    return ack.latency


def prepare_submission(*, sim: Simulator, bundle: str) -> View:
    """A fresh modal with every object of ``bundle`` selected and a reason typed in."""
    open_modal(sim)
    pick_bundle(sim=sim, bundle=bundle)
    select_all(sim)
    view = top_view(sim)
    sim.type_text(REQUESTER, view_id=view.id, action_id=ActionId.JUSTIFICATION, text=JUSTIFICATION)
    return view


def submit(*, sim: Simulator, view: View) -> Ack:
    """Press Submit → the ack that carries the confirmation."""
    fresh_records(sim)
    ack = sim.submit_view(REQUESTER, view_id=view.id)
    body = ack.payload or {}
    if body.get("response_action") != "update":
        raise BenchError(f"the submission was not accepted: {body.get('errors')}")
    return ack
