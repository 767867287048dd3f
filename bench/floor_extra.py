"""Floors for what :mod:`bench.floor` does not answer: a message button, Home, a DM fan-out.

An empty Bolt app in a child process (``python -m bench.floor_extra``), on a simulator of its
own, doing the least Slack accepts for each envelope the approval and Home benchmarks send:

* a button in a message (Approve): ack, nothing else. :mod:`bench.floor`'s action listener
  updates the modal the click came from, which a message button does not have;
* ``app_home_opened``: publish a one-block Home;
* a view submission: ack with a one-block update, then post one DM to each of ``fanout``, one
  after another from the listener, as a minimal script would.

The benchmarks that use it replay the subject's own payloads here, so both see the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bench.children import child_main, child_process, wait_until_connected
from bench.floor import ONE_BLOCK_MODAL
from bench.simcalls import BenchError, fresh_records, wait_for_call
from slacksim import ApiCall, Simulator, Workspace

JSON = dict[str, Any]

ANY: Final = re.compile(".*")
ONE_BLOCK_HOME: Final[JSON] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Nothing to see."}}],
}
FANOUT_TIMEOUT: Final = 10.0


def extra_app(*, bot_token: str, api_url: str, fanout: Sequence[str]) -> App:
    """A bare Bolt app, as its quick-start builds one, pointed at the simulator's Web API."""
    app = App(
        client=WebClient(token=bot_token, base_url=api_url),
        request_verification_enabled=False,
    )

    def ack_only(ack: Ack) -> None:
        ack()

    def publish_home(event: JSON, client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view=ONE_BLOCK_HOME)

    def submit_and_fan_out(ack: Ack, client: WebClient) -> None:
        ack(response_action="update", view=ONE_BLOCK_MODAL)
        for user in fanout:
            client.chat_postMessage(channel=user, text="Access request: approve or deny?")

    app.action(ANY)(ack_only)
    app.event("app_home_opened")(publish_home)
    app.view(ANY)(submit_and_fan_out)
    return app


class ExtraFloor:
    """Baseline samples, in seconds."""

    def __init__(self, *, sim: Simulator, fanout: Sequence[str]) -> None:
        self.sim = sim
        self.fanout = tuple(fanout)

    def ack_latency(self, *, payload: JSON) -> float:
        """The subject's payload (a message button) sent as is → its ack arrives."""
        return self.sim.send_envelope(type_="interactive", payload=payload).latency

    def home_latency(self, *, user: str) -> float:
        """``app_home_opened`` sent → ``views.publish`` arrives."""
        fresh_records(self.sim)
        ack = self.sim.open_home(user)
        call = wait_for_call(sim=self.sim, method="views.publish", since=ack.sent_at)
        return call.at - ack.sent_at

    def fanout_latency(self, *, payload: JSON) -> float:
        """The subject's ``view_submission`` sent → the last of the fan-out DMs arrives."""
        fresh_records(self.sim)
        ack = self.sim.send_envelope(type_="interactive", payload=payload)
        last = wait_for_posts(
            sim=self.sim, to=self.fanout, since=ack.sent_at, timeout=FANOUT_TIMEOUT
        )
        return last.at - ack.sent_at


def wait_for_posts(*, sim: Simulator, to: Sequence[str], since: float, timeout: float) -> ApiCall:
    """The ``chat.postMessage`` call that completed one post to each of ``to`` since ``since``.

    Fails if any of them got two: one approval message per approver is what the app promises.
    """
    wanted = set(to)

    def all_arrived() -> ApiCall | None:
        seen: dict[str, ApiCall] = {}
        for call in sim.calls_to("chat.postMessage"):
            channel = str(call.args.get("channel", ""))
            if call.at < since or channel not in wanted:
                continue
            if not call.ok:
                raise BenchError(f"chat.postMessage to {channel} failed: {call.error}")
            if channel in seen:
                raise BenchError(f"{channel} got two messages from one submission")
            seen[channel] = call
        return max(seen.values(), key=lambda c: c.at) if len(seen) == len(wanted) else None

    try:
        # Only a Web API call can change the answer, and the simulator wakes us on each one.
        return sim.wait_for(all_arrived, timeout=timeout, interval=timeout)
    except TimeoutError:
        raise BenchError(f"not all {len(wanted)} DMs arrived within {timeout} s") from None


@contextmanager
def running_extra_floor(
    *, workspace: Workspace, fanout: Sequence[str] = ()
) -> Iterator[ExtraFloor]:
    with Simulator(workspace=workspace) as sim:
        config = {
            "bot_token": sim.bot_token,
            "app_token": sim.app_token,
            "api_url": sim.api_url,
            "fanout": list(fanout),
        }
        with child_process(module="bench.floor_extra", config=config) as process:
            wait_until_connected(sim=sim, process=process, name="the extra floor app")
            yield ExtraFloor(sim=sim, fanout=fanout)


def _start(config: dict[str, Any]) -> Callable[[], None]:
    app = extra_app(
        bot_token=config["bot_token"], api_url=config["api_url"], fanout=config["fanout"]
    )
    handler = SocketModeHandler(app, config["app_token"])
    handler.connect()  # type: ignore[no-untyped-call]
    # Nothing to stop gracefully: child_main ends the process, and with it the socket.
    return lambda: None


if __name__ == "__main__":
    child_main(name="floor-extra", start=_start)
