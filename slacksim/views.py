"""Modals and Home tabs per user, with Slack's state and stack semantics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import blockkit
from .blockkit import clone
from .ids import IdFactory
from .limits import MAX_VIEW_STACK
from .models import View

JSON = dict[str, Any]


@dataclass(slots=True)
class ViewRecord:
    id: str
    user_id: str
    spec: JSON  # the view as the app sent it, with Slack's generated block_ids/action_ids
    hash: str
    state: dict[str, dict[str, JSON]] = field(default_factory=dict)
    # (block_id, action_id) of inputs the user changed: kept across views.update
    touched: set[tuple[str, str]] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    open: bool = True
    root_view_id: str | None = None
    previous_view_id: str | None = None

    @property
    def type(self) -> str:
        return str(self.spec.get("type", "modal"))

    @property
    def blocks(self) -> list[JSON]:
        blocks = self.spec.get("blocks") or []
        return list(blocks)

    @property
    def external_id(self) -> str:
        return str(self.spec.get("external_id") or "")

    def payload(self, *, team_id: str, app_id: str, bot_id: str) -> JSON:
        """The view object Slack returns from views.* and puts in interaction payloads.

        Shares the spec's parts instead of copying them: a spec is replaced on update, never
        changed in place, while the state (changed by the user) is copied.
        """
        spec = self.spec
        view: JSON = {
            "id": self.id,
            "team_id": team_id,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": spec.get("private_metadata") or "",
            "callback_id": spec.get("callback_id") or "",
            "state": {"values": clone(self.state)},
            "hash": self.hash,
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id or self.id,
            "app_id": app_id,
            "external_id": self.external_id,
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }
        return view

    def snapshot(self) -> View:
        spec = self.spec
        return View(
            id=self.id,
            type=self.type,
            user_id=self.user_id,
            blocks=clone(self.blocks),
            state_values=clone(self.state),
            private_metadata=str(spec.get("private_metadata") or ""),
            callback_id=str(spec.get("callback_id") or ""),
            hash=self.hash,
            errors=dict(self.errors),
            open=self.open,
            external_id=self.external_id,
            title=clone(spec.get("title")),
            submit=clone(spec.get("submit")),
            close=clone(spec.get("close")),
            root_view_id=self.root_view_id or self.id,
            previous_view_id=self.previous_view_id,
            notify_on_close=bool(spec.get("notify_on_close", False)),
            clear_on_close=bool(spec.get("clear_on_close", False)),
        )

    def set_value(self, block_id: str, action_id: str, entry: JSON) -> None:
        self.state.setdefault(block_id, {})[action_id] = entry
        self.touched.add((block_id, action_id))


def normalize(view: JSON, ids: IdFactory) -> JSON:
    """Copy the view and fill in ids the way Slack does for blocks and elements without them."""
    spec: JSON = clone(view)
    for block in spec.get("blocks") or []:
        if isinstance(block, dict) and "block_id" not in block:
            block["block_id"] = ids.block_id()
    for ref in blockkit.iter_elements(spec.get("blocks") or []):
        if ref.type != "image" and "action_id" not in ref.element:
            ref.element["action_id"] = ids.action_id()
    return spec


class PushLimitError(Exception):
    pass


class ViewStore:
    """Not thread-safe on its own: the caller holds the simulator's state lock."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._records: dict[str, ViewRecord] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}

    def get(self, view_id: str) -> ViewRecord | None:
        return self._records.get(view_id)

    def by_external_id(self, external_id: str) -> ViewRecord | None:
        # The newest view wins, as a reused external_id belongs to the latest open.
        for record in reversed(self._records.values()):
            if record.external_id == external_id and (record.open or record.type == "home"):
                return record
        return None

    def stack(self, user_id: str) -> list[ViewRecord]:
        return [self._records[v] for v in self._stacks.get(user_id, [])]

    def home(self, user_id: str) -> ViewRecord | None:
        view_id = self._homes.get(user_id)
        return self._records.get(view_id) if view_id else None

    def all(self) -> list[ViewRecord]:
        return list(self._records.values())

    def _new(self, user_id: str, view: JSON) -> ViewRecord:
        spec = normalize(view, self._ids)
        record = ViewRecord(
            id=self._ids.next("V", 10),
            user_id=user_id,
            spec=spec,
            hash=self._ids.view_hash(),
            state=blockkit.seed_state(spec.get("blocks") or []),
        )
        self._records[record.id] = record
        return record

    def open(self, user_id: str, view: JSON) -> ViewRecord:
        for old in self.stack(user_id):
            old.open = False
        record = self._new(user_id, view)
        record.root_view_id = record.id
        self._stacks[user_id] = [record.id]
        return record

    def push(self, user_id: str, view: JSON) -> ViewRecord:
        stack = self._stacks.get(user_id, [])
        if len(stack) >= MAX_VIEW_STACK:
            raise PushLimitError
        record = self._new(user_id, view)
        record.root_view_id = stack[0] if stack else record.id
        record.previous_view_id = stack[-1] if stack else None
        self._stacks[user_id] = [*stack, record.id]
        return record

    def update(self, record: ViewRecord, view: JSON) -> ViewRecord:
        """Replace the content, keeping what the user entered where block_id and action_id stay."""
        spec = normalize(view, self._ids)
        fresh = blockkit.seed_state(spec.get("blocks") or [])
        kept: set[tuple[str, str]] = set()
        types = {
            (ref.block_id, ref.action_id): ref.type
            for ref in blockkit.iter_elements(spec.get("blocks") or [])
        }
        for block_id, action_id in record.touched:
            old = record.state.get(block_id, {}).get(action_id)
            if old is not None and types.get((block_id, action_id)) == old.get("type"):
                fresh.setdefault(block_id, {})[action_id] = old
                kept.add((block_id, action_id))
        record.spec = spec
        record.state = fresh
        record.touched = kept
        record.hash = self._ids.view_hash()
        record.errors = {}
        return record

    def publish(self, user_id: str, view: JSON) -> ViewRecord:
        record = self.home(user_id)
        if record is None:
            record = self._new(user_id, view)
            record.root_view_id = record.id
            self._homes[user_id] = record.id
            return record
        return self.update(record, view)

    def close(self, record: ViewRecord) -> list[ViewRecord]:
        """Close one modal and everything pushed on top of it; returns the closed views."""
        stack = self._stacks.get(record.user_id, [])
        if record.id not in stack:
            record.open = False
            return [record]
        index = stack.index(record.id)
        closed = [self._records[v] for v in stack[index:]]
        for view in closed:
            view.open = False
        self._stacks[record.user_id] = stack[:index]
        return closed

    def clear(self, user_id: str) -> list[ViewRecord]:
        closed = self.stack(user_id)
        for view in closed:
            view.open = False
        self._stacks[user_id] = []
        return closed
