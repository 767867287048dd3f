"""Submitting and closing modals, and applying the app's response_action like Slack."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from . import blockkit, payloads
from .acting import Acting
from .limits import Problem, check_view
from .models import Ack, SimulatorError
from .views import PushLimitError, ViewRecord

JSON = dict[str, Any]


class SubmissionBlockedError(SimulatorError):
    """Slack's client would not send this submission (a required input is empty or too short)."""


class ModalActions(Acting):
    """A modal's submit and close (X) buttons."""

    def submit_view(self, user_id: str, *, view_id: str, timeout: float | None = None) -> Ack:
        """Press the modal's submit button, then apply the ack's response_action like Slack."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            record = self._visible_view(user_id, view_id)
            if record.type != "modal" or record.spec.get("submit") is None:
                raise SimulatorError(f"view {view_id} has no submit button")
            _check_inputs(record)
            record.errors = {}
            payload = payloads.view_submission(
                state.workspace,
                user,
                view=self._view_json(record),
                trigger_id=state.new_trigger(user_id),
            )
        ack = self._deliver("interactive", payload, timeout)
        self._apply_response_action(record, ack)
        return ack

    def submit_forged_view(
        self,
        user_id: str,
        *,
        view_id: str,
        edit: Callable[[JSON], None],
        timeout: float | None = None,
    ) -> Ack:
        """Submit what a forged client would: the view as Slack would send it, changed by
        ``edit`` (state values no menu offered, a huge private_metadata, ...), with none of the
        client's own checks. The ack is returned and not applied, so the modal stays open."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            record = self._visible_view(user_id, view_id)
            view = self._view_json(record)
            trigger_id = state.new_trigger(user_id)
        edit(view)
        payload = payloads.view_submission(state.workspace, user, view=view, trigger_id=trigger_id)
        return self._deliver("interactive", payload, timeout)

    def submit_view_at_once(
        self, user_id: str, *, view_id: str, copies: int = 2, timeout: float | None = None
    ) -> list[Ack]:
        """Send ``copies`` identical submissions of one modal at the same moment (a double
        click on a slow connection, a client retry) and apply each ack like Slack, in the
        order they arrive; an ack for a modal already closed changes nothing. Returns the acks
        in the order they arrived."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            record = self._visible_view(user_id, view_id)
            if record.type != "modal" or record.spec.get("submit") is None:
                raise SimulatorError(f"view {view_id} has no submit button")
            _check_inputs(record)
            record.errors = {}
            view = self._view_json(record)
            payloads_ = [
                payloads.view_submission(
                    state.workspace, user, view=view, trigger_id=state.new_trigger(user_id)
                )
                for _ in range(copies)
            ]
        start = threading.Barrier(copies)
        acks: list[Ack] = []
        failures: list[BaseException] = []

        def deliver(payload: JSON) -> None:
            start.wait()
            try:
                acks.append(self._deliver("interactive", payload, timeout))
            except BaseException as error:  # raised in the caller below
                failures.append(error)

        senders = [threading.Thread(target=deliver, args=(p,)) for p in payloads_]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        if failures:
            raise failures[0]
        acks.sort(key=lambda a: a.acked_at)
        for ack in acks:
            with state.lock:
                still_open = record in state.views.stack(user_id)
            if still_open:
                self._apply_response_action(record, ack)
        return acks

    def _apply_response_action(self, record: ViewRecord, ack: Ack) -> None:
        body = ack.payload or {}
        action = body.get("response_action")
        state = self._state
        who = state.workspace.display_name_of(record.user_id)
        problems: list[Problem] = []
        with state.lock:
            if action is None:
                state.views.close(record)
                state.recorder.note(ack.acked_at, f"Modal {record.id} for {who} closed on submit")
            elif action == "errors":
                errors = body.get("errors")
                problems = _check_errors(record, errors)
                if not problems and isinstance(errors, dict):
                    record.errors = {str(k): str(v) for k, v in errors.items()}
                    details = [f"{k}: {v}" for k, v in record.errors.items()]
                    state.recorder.note(
                        ack.acked_at, f"Modal {record.id} for {who} shows errors", details
                    )
            elif action in {"update", "push"}:
                problems = check_view(
                    body.get("view"),
                    expect_type="modal",
                    unique_action_ids=state.unique_action_ids,
                )
                if not problems:
                    problems = self._update_or_push(record, action, body["view"])
                    note = f"Modal {record.id} for {who}: response_action {action}"
                    state.recorder.note(ack.acked_at, note)
            elif action == "clear":
                state.views.clear(record.user_id)
                state.recorder.note(ack.acked_at, f"All modals of {who} cleared")
            else:
                problems = [Problem("/response_action", f"unknown response_action {action!r}")]
        self._violate("view_submission ack", problems)

    def _update_or_push(self, record: ViewRecord, action: str, view: JSON) -> list[Problem]:
        if action == "update":
            self._state.views.update(record, view)
            return []
        try:
            self._state.views.push(record.user_id, view)
        except PushLimitError:
            return [
                Problem("/response_action", "at most 3 views can be stacked", "push_limit_reached")
            ]
        return []

    def close_view(self, user_id: str, *, view_id: str, timeout: float | None = None) -> Ack | None:
        """Press the modal's close (X) button; an Ack only when the view has notify_on_close."""
        state = self._state
        user = self._actor(user_id)
        with state.lock:
            record = self._visible_view(user_id, view_id)
            if record.type != "modal":
                raise SimulatorError(f"view {view_id} is a {record.type}, it cannot be closed")
            clear = bool(record.spec.get("clear_on_close"))
            notify = bool(record.spec.get("notify_on_close"))
            view = self._view_json(record)
            if clear:
                state.views.clear(user_id)
            else:
                state.views.close(record)
        if not notify:
            return None
        payload = payloads.view_closed(state.workspace, user, view=view, is_cleared=clear)
        return self._deliver("interactive", payload, timeout)


def _is_empty(entry: JSON | None) -> bool:
    if entry is None:
        return True
    key = blockkit.state_key(str(entry.get("type")))
    value = entry.get(key) if key else None
    return value is None or value == "" or value == []


def _check_inputs(record: ViewRecord) -> None:
    """The checks Slack's client makes before it sends view_submission."""
    for ref in blockkit.iter_elements(record.blocks):
        if not ref.in_input:
            continue
        entry = record.state.get(ref.block_id, {}).get(ref.action_id)
        if not ref.block.get("optional", False) and _is_empty(entry):
            raise SubmissionBlockedError(f"required input {ref.block_id}/{ref.action_id} is empty")
        if entry is not None and isinstance(entry.get("value"), str):
            text = entry["value"]
            low, high = ref.element.get("min_length"), ref.element.get("max_length")
            if text and isinstance(low, int) and len(text) < low:
                raise SubmissionBlockedError(
                    f"{ref.block_id}/{ref.action_id} needs at least {low} characters"
                )
            if isinstance(high, int) and len(text) > high:
                raise SubmissionBlockedError(
                    f"{ref.block_id}/{ref.action_id} allows at most {high} characters"
                )


def _check_errors(record: ViewRecord, errors: Any) -> list[Problem]:
    """Slack refuses a response_action errors naming a block that is not an input of the view."""
    if not isinstance(errors, dict) or not errors:
        return [Problem("/errors", "must be a non-empty object of block_id -> message")]
    inputs = {b.get("block_id") for b in record.blocks if b.get("type") == "input"}
    problems = []
    for block_id, message in errors.items():
        if block_id not in inputs:
            problems.append(
                Problem(f"/errors/{block_id}", f"no input block {block_id!r} in the view")
            )
        elif not isinstance(message, str) or len(message) > 2000:
            problems.append(
                Problem(f"/errors/{block_id}", "must be a string of at most 2000 characters")
            )
    return problems
