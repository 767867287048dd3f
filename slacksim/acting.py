"""What every user action shares: delivering envelopes and finding what a user sees."""

from __future__ import annotations

from typing import Any

from . import blockkit, payloads
from .blockkit import ElementRef, clone
from .limits import ACK_DEADLINE, Problem
from .models import Ack, ElementNotFoundError, LimitViolation, SimulatorError, SlackLimitError
from .socketmode import SocketModeServer
from .state import SlackState
from .views import ViewRecord
from .workspace import User

JSON = dict[str, Any]


class Acting:
    """Base of the user-action mixins of Simulator; everything here blocks until the app acks."""

    _state: SlackState
    _socket: SocketModeServer
    ack_timeout: float
    raise_on_violation: bool
    _envelopes: list[JSON]

    # --- delivery ---------------------------------------------------------------------------

    def send_envelope(
        self,
        *,
        type_: str,
        payload: JSON,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> Ack:
        """Send one Socket Mode envelope to one connection and wait for its ack."""
        envelope = payloads.envelope(
            type_=type_, payload=payload, retry_attempt=retry_attempt, retry_reason=retry_reason
        )
        return self._send(envelope, timeout=timeout)

    def send_raw_envelope(self, envelope: JSON, *, timeout: float = 5.0) -> Ack:
        """Send ``envelope`` exactly as given, whatever it holds (a payload that is no mapping,
        missing fields, wrong types): only its ``envelope_id`` is needed, to match the ack."""
        return self._send(envelope, timeout=timeout)

    def redeliver(self, ack_or_envelope: Ack | JSON, *, timeout: float = 5.0) -> Ack:
        """Send the same envelope again (same envelope_id and payload), as Slack does on retry."""
        original = ack_or_envelope.envelope if isinstance(ack_or_envelope, Ack) else ack_or_envelope
        envelope = clone(original)
        envelope["retry_attempt"] = int(original.get("retry_attempt") or 0) + 1
        envelope["retry_reason"] = "timeout"
        return self._send(envelope, timeout=timeout)

    def _send(self, envelope: JSON, *, timeout: float) -> Ack:
        with self._state.lock:
            self._envelopes.append(envelope)
        ack = self._socket.send(envelope, timeout=timeout)
        if ack.latency > ACK_DEADLINE:
            message = f"acked after {ack.latency:.3f} s, Slack allows {ACK_DEADLINE:g} s"
            kind = envelope.get("type")
            self._violate(f"ack:{kind}", [Problem("", message)], raise_now=False)
        return ack

    def _deliver(self, type_: str, payload: JSON, timeout: float | None) -> Ack:
        return self.send_envelope(type_=type_, payload=payload, timeout=timeout or self.ack_timeout)

    def _violate(
        self, method: str, problems: list[Problem], *, raise_now: bool = True
    ) -> list[LimitViolation]:
        found = self._state.recorder.add_violations(method, problems)
        if found and raise_now and self.raise_on_violation:
            raise SlackLimitError(found)
        return found

    # --- lookups ----------------------------------------------------------------------------

    def _actor(self, user_id: str) -> User:
        user = self._state.workspace.user(user_id)
        if user is None:
            raise SimulatorError(f"no user {user_id!r} in the simulated workspace")
        if user.deleted:
            raise SimulatorError(f"user {user_id} is deactivated and cannot use Slack")
        return user

    def _visible_view(self, user_id: str, view_id: str) -> ViewRecord:
        record = self._state.views.get(view_id)
        if record is None:
            raise SimulatorError(f"no view {view_id!r}")
        if record.user_id != user_id:
            raise SimulatorError(f"view {view_id} is shown to {record.user_id}, not {user_id}")
        if record.type == "modal":
            stack = self._state.views.stack(user_id)
            if not record.open or not stack or stack[-1] is not record:
                raise SimulatorError(f"modal {view_id} is not the one on screen for {user_id}")
        return record

    @staticmethod
    def _element(
        blocks: list[JSON], *, action_id: str, block_id: str | None, value: str | None, where: str
    ) -> ElementRef:
        refs = blockkit.find_elements(blocks, action_id, block_id=block_id)
        if len(refs) > 1 and value is not None:
            refs = [r for r in refs if r.element.get("value") == value]
        if not refs:
            shown = [f"{r.block_id}/{r.action_id}" for r in blockkit.iter_elements(blocks)]
            target = f"{block_id}/{action_id}" if block_id else action_id
            raise ElementNotFoundError(f"no element {target!r} in {where}; shown: {shown}")
        if len(refs) > 1:
            raise ElementNotFoundError(
                f"{len(refs)} elements {action_id!r} in {where}: pass block_id= or value="
            )
        return refs[0]

    def _view_json(self, record: ViewRecord) -> JSON:
        ws = self._state.workspace
        return record.payload(team_id=ws.team_id, app_id=ws.app_id, bot_id=ws.bot_id)

    def _message_target(
        self, user_id: str, message: tuple[str, str]
    ) -> tuple[str, JSON, list[JSON]]:
        channel, ts = message
        state = self._state
        channel_id = state.lookup_channel(channel) or channel
        record = state.messages.get(channel_id, ts)
        if record is None or record.deleted:
            raise SimulatorError(f"no message {ts} in {channel}")
        dm_user = state.messages.dm_user(channel_id)
        if dm_user is not None and dm_user != user_id:
            raise SimulatorError(f"message {ts} is in {dm_user}'s DM; {user_id} cannot see it")
        ws = state.workspace
        return (
            channel_id,
            record.payload(team_id=ws.team_id, bot_id=ws.bot_id, app_id=ws.app_id),
            record.blocks,
        )
