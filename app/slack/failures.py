"""Whatever arrives over Socket Mode is acked, and a failure reaches the log, never a person.

Bolt leaves an envelope unacked when no listener matches it (status 404) or when a listener
raised before acking (status 500): its Socket Mode adapter only acks a 200. Slack then retries
the envelope and shows the person an error. So every such failure is answered with an empty 200
(:func:`acknowledge_failure`, the app's global error handler, with
``raise_error_for_unhandled_request=True`` so unmatched requests come here too); a listener that
fails after acking keeps its ack (:class:`GuardedApp`); and the socket handler acks an envelope
itself should Bolt fail before any listener, or the SDK drop it (:class:`AckingHandler`).

Logs name the payload's type and where the code failed, never the payload or the exception's
message, which may quote what a person typed (docs/architecture.md, "Slack's limits").
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.listener_matcher import ListenerMatcher
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from app.slack.payloads import MalformedPayload

_log = logging.getLogger(__name__)
_MAX_KIND: Final = 40
_ROOT: Final = Path(__file__).resolve().parents[2]
_RECEIVE_BUFFER: Final = 64 * 1024


def payload_kind(body: object) -> str:
    """``view_submission``, ``block_actions``, ``event_callback``, ``/apono``: what kind of
    payload it was, safe to log (cut short, only what Slack's own names are made of)."""
    if not isinstance(body, dict):
        return "not-a-mapping"
    kind = body.get("type") or body.get("command") or "unknown"
    text = str(kind)[:_MAX_KIND]
    return "".join(c for c in text if c.isascii() and (c.isalnum() or c in "_/-.")) or "unknown"


def where(error: BaseException) -> str:
    """``app/requesting/listeners.py:212`` of the innermost frame: enough to find the bug."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    path = Path(last.filename)
    if path.is_relative_to(_ROOT):
        shown = str(path.relative_to(_ROOT))
    else:
        shown = last.filename.rsplit("site-packages/", 1)[-1]
    return f"{shown}:{last.lineno}"


def _report(error: Exception, body: object) -> None:
    kind = payload_kind(body)
    if isinstance(error, MalformedPayload):
        _log.warning("a payload naming no user; acked", extra={"payload_type": kind})
    else:
        _log.error(
            "a listener failed; acked",
            extra={"payload_type": kind, "error": type(error).__name__, "at": where(error)},
        )


def acknowledge_failure(
    error: Exception, request: BoltRequest, response: BoltResponse | None
) -> BoltResponse | None:
    """Bolt's global error handler: log without the payload, and ack if nothing has yet."""
    if isinstance(error, BoltUnhandledRequestError):
        kind = payload_kind(request.body)
        _log.info("no listener for this payload; acked", extra={"payload_type": kind})
    else:
        _report(error, request.body)
    # A listener that acked before failing has no response left to change (Bolt passes None).
    return None if response is None else BoltResponse(status=200, body="")


def _ack_what_the_sdk_drops(
    client: BaseSocketModeClient, message: dict[str, Any], raw_message: str | None
) -> None:
    envelope_id = message.get("envelope_id")
    if not isinstance(envelope_id, str):
        return  # hello, disconnect: not an envelope
    if all(k in message for k in ("type", "payload")) and isinstance(
        message["payload"], dict | str
    ):
        return  # one the SDK hands to Bolt (SocketModeRequest.from_dict takes these)
    _log.info("an envelope without a type or a usable payload; acked")
    client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))


def _guarded(listener: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(listener)
    def run(**kwargs: Any) -> Any:
        try:
            return listener(**kwargs)
        except Exception as error:
            ack = kwargs.get("ack")
            if not isinstance(ack, Ack) or ack.response is None:
                raise  # not acked yet: acknowledge_failure acks it
            _report(error, kwargs.get("body"))
            return None

    return run


class _BodyMatcher(ListenerMatcher):
    """Bolt's own matcher of a listener's action ID, callback ID, command or event type,
    asked with the payload alone.

    Bolt tries every registered listener in turn until one matches, and its matcher builds the
    whole set of listener arguments (client, context, say, respond, ...) before each try, only
    to pass the body: with this bot's ~80 listeners that was 5% of its CPU per request."""

    def __init__(self, builtin: BuiltinListenerMatcher) -> None:
        self._matches = builtin.func

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return bool(self._matches(body=req.body))


def _cheap(matcher: ListenerMatcher) -> ListenerMatcher:
    if isinstance(matcher, BuiltinListenerMatcher) and matcher.arg_names == ["body"]:
        return _BodyMatcher(matcher)
    return matcher


class GuardedApp(App):
    """Bolt's app, except that a listener failing after its ``ack()`` keeps that ack, and that
    finding the listener for a payload costs little (:class:`_BodyMatcher`).

    Bolt (1.x) answers a listener that raised after acking by setting its ack to none, so the
    envelope waits for the 3 s ack timeout and is then acked late, as unhandled. Every listener
    is wrapped to log such a failure (as :func:`acknowledge_failure` does) and return instead.
    """

    def _register_listener(
        self,
        functions: Sequence[Callable[..., BoltResponse | None]],
        primary_matcher: ListenerMatcher,
        matchers: Sequence[Callable[..., bool]] | None,
        middleware: Sequence[Callable[..., Any] | Middleware] | None,
        auto_acknowledgement: bool = False,
        ack_timeout: int = 3,
    ) -> Callable[..., BoltResponse | None] | None:
        return super()._register_listener(
            [_guarded(f) for f in functions],
            _cheap(primary_matcher),
            matchers,
            middleware,
            auto_acknowledgement,
            ack_timeout,
        )


class AckingHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, acking the envelope even if Bolt itself fails on it, and
    acking an envelope the SDK drops (one lacking its ``type``, or whose ``payload`` is neither
    a mapping nor a string)."""

    def __init__(self, app: App, app_token: str) -> None:
        # The SDK reads 1 KiB per call by default, which makes a forged 1 MB envelope take
        # seconds to arrive, past Slack's 3 s; 64 KiB reads take it in milliseconds.
        super().__init__(app, app_token, receive_buffer_size=_RECEIVE_BUFFER)
        self.client.message_listeners.append(_ack_what_the_sdk_drops)

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            super().handle(client, req)
        except Exception as error:
            _log.error(
                "a Socket Mode envelope could not be handled; acked",
                extra={
                    "payload_type": payload_kind(req.payload),
                    "error": type(error).__name__,
                    "at": where(error),
                },
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
