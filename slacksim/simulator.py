"""The Simulator: a fake Slack on loopback that the unchanged app reaches through its settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from .faults import Faults
from .interactions import UserActions
from .modals import ModalActions
from .models import ApiCall, Ephemeral, FileRecord, LimitViolation, Message, View
from .recorder import CallFeed, Recorder
from .socketmode import SocketModeServer, StrayAck
from .state import SlackState
from .webapi import WebApi, WebApiServer
from .workspace import DEFAULT_APP_TOKEN, DEFAULT_BOT_TOKEN, Workspace, demo_workspace

JSON = dict[str, Any]
T = TypeVar("T")


class Simulator(UserActions, ModalActions):
    """Web API (HTTP) and Socket Mode (WebSocket) servers sharing one recorded Slack state.

    Point the app at it with WebClient(base_url=sim.api_url, token=bot_token) and a Socket Mode
    handler built with app_token; then act as users (slash_command, click, submit_view, ...)
    and assert on what the app did (messages, views, calls, transcript).
    """

    def __init__(
        self,
        *,
        workspace: Workspace | None = None,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        ack_timeout: float = 5.0,
        trigger_ttl: float = 3.0,
        raise_on_violation: bool = True,
        unique_action_ids: bool = True,
    ) -> None:
        """
        ack_timeout: how long user actions wait for the app's ack (an ack later than Slack's
            3 s still arrives but is recorded as a violation).
        trigger_ttl: how long a trigger_id opens a view (Slack: 3 s).
        raise_on_violation: a bad answer in an ack (suggestions, response_action) raises
            SlackLimitError in the test at once, besides being recorded.
        unique_action_ids: refuse views that repeat an action_id in another block. Slack only
            wants action_ids unique per block; this is the project's stricter rule.
        """
        self.ack_timeout = ack_timeout
        self.raise_on_violation = raise_on_violation
        self._recorder = Recorder()
        self._state = SlackState(
            workspace=workspace if workspace is not None else demo_workspace(),
            bot_token=bot_token,
            app_token=app_token,
            recorder=self._recorder,
            trigger_ttl=trigger_ttl,
            unique_action_ids=unique_action_ids,
        )
        self._faults = Faults()
        self._web = WebApiServer(WebApi(state=self._state, faults=self._faults))
        self._socket = SocketModeServer(app_id=self._state.workspace.app_id)
        self._envelopes: list[JSON] = []
        self._message_state: dict[tuple[str, str], dict[str, dict[str, JSON]]] = {}
        self._started = False

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Simulator:
        if self._started:
            return self
        self._socket.start()
        self._web.start()
        self._state.base_url = self._web.base_url
        self._state.socket_url_factory = self._socket.issue_url
        self._started = True
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._socket.stop()
        self._web.stop()
        self._started = False

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """What the app puts in SLACK_API_URL / WebClient(base_url=...)."""
        return f"{self._web.base_url}/api/"

    @property
    def workspace(self) -> Workspace:
        return self._state.workspace

    @property
    def bot_token(self) -> str:
        return self._state.bot_token

    @property
    def app_token(self) -> str:
        return self._state.app_token

    # --- Socket Mode ------------------------------------------------------------------------

    def wait_for_connections(self, *, n: int = 1, timeout: float = 10.0) -> None:
        self._socket.wait_for_connections(n=n, timeout=timeout)

    @property
    def connection_count(self) -> int:
        return self._socket.connection_count

    def drop_connections(self, *, notify: bool = True) -> int:
        """Close every Socket Mode connection; with notify, Slack's `disconnect` goes first."""
        return self._socket.drop_connections(notify=notify)

    @property
    def envelopes(self) -> list[JSON]:
        """Every envelope sent, oldest first."""
        with self._state.lock:
            return list(self._envelopes)

    @property
    def stray_acks(self) -> list[StrayAck]:
        """Acks that matched no waiting envelope (late, duplicate or unknown)."""
        return list(self._socket.stray_acks)

    # --- records ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        return self._recorder.calls

    def calls_to(self, method: str) -> list[ApiCall]:
        return self._recorder.calls_to(method)

    def messages(self, channel_or_user_id: str, *, include_deleted: bool = False) -> list[Message]:
        """Messages in a channel, DM, or a user's DM with the bot (by user ID), oldest first."""
        channel = self._state.lookup_channel(channel_or_user_id)
        if channel is None:
            return []
        with self._state.lock:
            records = self._state.messages.in_channel(channel)
            return [r.snapshot() for r in records if include_deleted or not r.deleted]

    def message(self, channel_or_user_id: str, ts: str) -> Message:
        for message in self.messages(channel_or_user_id, include_deleted=True):
            if message.ts == ts:
                return message
        raise KeyError(f"no message {ts} in {channel_or_user_id}")

    def ephemerals(self, user_id: str) -> list[Ephemeral]:
        with self._state.lock:
            return self._state.messages.ephemerals(user_id)

    def files(self, channel_or_user_id: str | None = None) -> list[FileRecord]:
        channel = self._state.lookup_channel(channel_or_user_id) if channel_or_user_id else None
        if channel_or_user_id and channel is None:
            return []
        with self._state.lock:
            return self._state.messages.files(channel)

    def view(self, view_id: str) -> View:
        with self._state.lock:
            record = self._state.views.get(view_id)
            if record is None:
                raise KeyError(f"no view {view_id}")
            return record.snapshot()

    def open_views(self, user_id: str) -> list[View]:
        """The user's modal stack, root first; the last one is on screen."""
        with self._state.lock:
            return [r.snapshot() for r in self._state.views.stack(user_id)]

    def top_view(self, user_id: str) -> View | None:
        stack = self.open_views(user_id)
        return stack[-1] if stack else None

    def top_view_version(self, user_id: str) -> tuple[str, str] | None:
        """The ID and hash of the modal on the user's screen, without copying it: for a wait
        that looks on every recorded call until the modal changes."""
        with self._state.lock:
            stack = self._state.views.stack(user_id)
            return (stack[-1].id, stack[-1].hash) if stack else None

    def home(self, user_id: str) -> View | None:
        with self._state.lock:
            record = self._state.views.home(user_id)
            return record.snapshot() if record is not None else None

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM with this user (created if the app never opened it)."""
        with self._state.lock:
            return self._state.messages.dm_for(user_id)

    @property
    def violations(self) -> list[LimitViolation]:
        return self._recorder.violations

    def take_violations(self) -> list[LimitViolation]:
        """Hand the recorded violations to the test (which then owns asserting on them)."""
        return self._recorder.take_violations()

    def assert_no_violations(self) -> None:
        found = self._recorder.violations
        if found:
            listed = "\n  ".join(str(v) for v in found)
            raise AssertionError(f"{len(found)} Slack limit violation(s):\n  {listed}")

    def transcript(self) -> str:
        """Who got which message and which views opened, readable, in time order."""
        return self._recorder.transcript()

    def clear_records(self) -> None:
        """Forget calls, violations and transcript (e.g. between benchmark rounds)."""
        self._recorder.clear()

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = 5.0,
        interval: float = 0.005,
        wake_on: Callable[[ApiCall], bool] | None = None,
    ) -> T:
        """Until predicate() is truthy, return its value; raise TimeoutError otherwise.

        The predicate is tried again as soon as the simulator records anything (a Web API call,
        a violation, a transcript line), and at least every ``interval`` seconds for changes it
        cannot see (the app's database, say): a wait on simulator state alone can pass a long
        ``interval`` and cost nothing while nothing happens. ``wake_on``: only the Web API
        calls that can make the predicate true (say, ``views.*`` for a wait on a modal) try
        it again, not every record; it runs in the thread that records the call."""
        deadline = time.monotonic() + timeout
        seen = self._recorder.changes
        position = self._recorder.position
        while True:
            result = predicate()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            if wake_on is None:
                seen = self._recorder.wait_for_change(seen=seen, timeout=min(interval, left))
            else:
                position = self._recorder.wait_for_matching_call(
                    position=position, wake_on=wake_on, timeout=min(interval, left)
                )

    def wait_for_call(
        self,
        method: str | None = None,
        *,
        where: Callable[[ApiCall], bool] | None = None,
        since: float | None = None,
        timeout: float = 5.0,
    ) -> ApiCall:
        """The first recorded call to ``method`` (any method when None) that arrived at or after
        ``since`` (``time.perf_counter()``, as ApiCall.at) and satisfies ``where``, waiting for
        it if need be; raise TimeoutError otherwise.

        Each recorded call is looked at once: waiting wakes on every new call, never polls."""
        deadline = time.monotonic() + timeout
        feed = self._recorder.feed(from_start=True)
        while True:
            for call in feed.take(timeout=max(deadline - time.monotonic(), 0.0)):
                if method is not None and call.method != method:
                    continue
                if since is not None and call.at < since:
                    continue
                if where is None or where(call):
                    return call
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {method or 'Web API'} call within {timeout}s")

    def call_feed(self, *, from_start: bool = False) -> CallFeed:
        """Every Web API call recorded from now on (or from the first still kept), each handed
        out once by ``feed.take(timeout=...)``, which waits for the next one when none is new."""
        return self._recorder.feed(from_start=from_start)

    # --- faults -----------------------------------------------------------------------------

    def inject(
        self,
        *,
        method: str | None,
        status: int,
        retry_after: int | None = None,
        times: int | None = 1,
        error: str | None = None,
    ) -> None:
        """Fail the next `times` calls to `method` (None: any) with this HTTP status.

        A 429 carries Retry-After (an integer: the SDK parses it with int()).
        """
        self._faults.inject(
            method=method, status=status, retry_after=retry_after, times=times, error=error
        )

    def outage(self, *, status: int = 503) -> None:
        """Every Web API call fails with `status` until restore()."""
        self._faults.outage(status=status)

    def restore(self) -> None:
        self._faults.restore()

    def inject_delay(self, method: str | None, seconds: float, *, times: int | None = None) -> None:
        """Answer `method` (None: any) only after `seconds`."""
        self._faults.inject_delay(method=method, seconds=seconds, times=times)

    def enforce_rate_limit(
        self,
        *,
        per_second: float | None = 1.0,
        burst: float | None = None,
        methods: tuple[str, ...] = ("chat.postMessage",),
    ) -> None:
        """Per-channel token bucket like Slack's; 429 + Retry-After beyond it. None turns it off."""
        self._faults.enforce_rate_limit(per_second=per_second, burst=burst, methods=methods)

    def clear_faults(self) -> None:
        self._faults.clear()

    def issue_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id for this user, as an interaction would carry (for raw API tests)."""
        return self._state.new_trigger(user_id)

    def age_triggers(self, seconds: float) -> None:
        """Make every issued trigger_id `seconds` older (test expiry without sleeping)."""
        self._state.age_triggers(seconds)
