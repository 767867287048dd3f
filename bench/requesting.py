"""A requester and an approver, as any user of the simulated workspace, safe to run in threads.

:mod:`bench.modal_steps` drives one requester and forgets the simulator's records between steps;
several people acting at once (the two-instance load) cannot do that, so each step here waits
for *its own* result: the user's modal changing (a new view ID or a new hash), the submission's
ack, a message in the user's DM. Nothing here clears the simulator's records.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Final, TypeVar

from bench.simcalls import BenchError
from blocks.ids import ActionId
from domain.ids import RequestId
from slacksim import Ack, ApiCall, Simulator, View

T = TypeVar("T")

STEP_TIMEOUT: Final = 10.0
"""Generous: under the two-instance load a step waits behind hundreds of others."""
POLL_SECONDS: Final = 0.002
RECHECK_SECONDS: Final = 1.0
"""How often a wait on the simulator looks again without being woken: only a recorded Web API
call changes what it waits for, so this is a safety net, not a poll."""
_REQUEST_ID: Final = re.compile(r"AR-[0-9A-Z]{6}")


def poll(
    condition: Callable[[], T | None],
    *,
    what: str,
    timeout: float = STEP_TIMEOUT,
    interval: float = POLL_SECONDS,
) -> T:
    """``condition()`` once it is truthy; a :class:`BenchError` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise BenchError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)


def _view_call(call: ApiCall) -> bool:
    return call.method.startswith("views.")


def await_sim(
    sim: Simulator,
    condition: Callable[[], T | None],
    *,
    what: str,
    timeout: float = STEP_TIMEOUT,
    wake_on: Callable[[ApiCall], bool] | None = None,
) -> T:
    """Like :func:`poll` for a condition on the simulator's state: woken by each recorded call
    (each for which ``wake_on`` holds, when given)."""
    try:
        return sim.wait_for(condition, timeout=timeout, interval=RECHECK_SECONDS, wake_on=wake_on)
    except TimeoutError:
        raise BenchError(f"{what} did not happen within {timeout:g} s") from None


def _top(sim: Simulator, user: str) -> View | None:
    return sim.top_view(user)


def _version(sim: Simulator, user: str) -> tuple[str, str] | None:
    """What the waits compare, read on every recorded call: the modal itself is copied only
    once it changed."""
    return sim.top_view_version(user)


def _changed_top(sim: Simulator, user: str) -> View:
    view = _top(sim, user)
    if view is None:
        raise BenchError(f"{user}'s modal closed")
    return view


def open_modal(sim: Simulator, *, user: str) -> View:
    """``/apono`` → the new modal on screen."""
    before = _version(sim, user)
    sim.slash_command(user)

    def opened() -> bool:
        now = _version(sim, user)
        return now is not None and (before is None or now[0] != before[0])

    await_sim(sim, opened, what=f"a modal for {user}", wake_on=_view_call)
    return _changed_top(sim, user)


def _changed(sim: Simulator, *, user: str, view: View, act: Callable[[], Ack | None]) -> View:
    """Do ``act`` in ``view`` and wait for the app's ``views.update`` of it."""
    if act() is None:
        raise BenchError("the element sent no block_actions")

    def updated() -> bool:
        now = _version(sim, user)
        return now is not None and now[0] == view.id and now[1] != view.hash

    await_sim(sim, updated, what=f"an update of {user}'s modal", wake_on=_view_call)
    return _changed_top(sim, user)


def pick_bundle(sim: Simulator, *, user: str, view: View, bundle: str) -> View:
    """Choose ``bundle`` in the Bundle Mode menu (a static select: few bundles are offered)."""
    return _changed(
        sim,
        user=user,
        view=view,
        act=lambda: sim.select(user, action_id=ActionId.PICK_BUNDLE, view_id=view.id, value=bundle),
    )


def select_all(sim: Simulator, *, user: str, view: View) -> View:
    return _changed(
        sim,
        user=user,
        view=view,
        act=lambda: sim.click(user, action_id=ActionId.SELECT_ALL, view_id=view.id),
    )


def prepare(sim: Simulator, *, user: str, bundle: str, reason: str) -> View:
    """A fresh modal with every object of ``bundle`` selected and a reason typed in."""
    view = open_modal(sim, user=user)
    view = pick_bundle(sim, user=user, view=view, bundle=bundle)
    view = select_all(sim, user=user, view=view)
    sim.type_text(user, view_id=view.id, action_id=ActionId.JUSTIFICATION, text=reason)
    return view


def submit(sim: Simulator, *, user: str, view: View) -> tuple[Ack, RequestId]:
    """Press Submit → the ack confirming the stored request, and the request's ID."""
    ack = sim.submit_view(user, view_id=view.id)
    body = ack.payload or {}
    if body.get("response_action") != "update":
        raise BenchError(f"the submission was not accepted: {body.get('errors')}")
    found = _REQUEST_ID.search(json.dumps(body.get("view")))
    if found is None:
        raise BenchError("the confirmation names no request ID")
    return ack, RequestId(found.group(0))


def request_bundle(sim: Simulator, *, user: str, bundle: str, reason: str) -> RequestId:
    """The requester's whole story: open, pick, select all, justify, submit."""
    return submit(sim, user=user, view=prepare(sim, user=user, bundle=bundle, reason=reason))[1]
