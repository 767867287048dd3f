"""Records the simulator hands to tests: immutable snapshots, safe to keep after the fact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ack:
    """The app's answer to one Socket Mode envelope."""

    envelope_id: str
    payload: JSON | None
    latency: float  # seconds from the envelope leaving the simulator to its ack arriving
    sent_at: float  # time.perf_counter() when the envelope was sent
    connection_id: str
    envelope: JSON = field(repr=False)

    @property
    def acked_at(self) -> float:
        return self.sent_at + self.latency


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Web API request as the simulator saw it, including injected failures."""

    method: str
    args: JSON
    at: float  # time.perf_counter() when the request arrived
    ok: bool
    error: str | None
    status: int = 200
    injected: bool = False
    response: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class LimitViolation:
    """One breach of a Slack limit (docs/architecture.md, "Slack's limits") by something the app
    sent."""

    method: str
    path: str  # JSON pointer into what the app sent, e.g. /view/blocks/3/text/text
    message: str

    def __str__(self) -> str:
        return f"{self.method}: {self.message} [json-pointer:{self.path}]"


@dataclass(frozen=True, slots=True)
class MessageVersion:
    text: str
    blocks: list[JSON]
    at: float


@dataclass(frozen=True, slots=True)
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[JSON]
    thread_ts: str | None
    edits: tuple[MessageVersion, ...]  # earlier versions, oldest first
    updated_at: float | None
    posted_at: float = 0.0
    deleted: bool = False
    files: tuple[str, ...] = ()
    metadata: JSON | None = None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JSON]
    at: float


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    name: str
    title: str
    content: bytes = field(repr=False)
    channel: str | None
    initial_comment: str | None
    thread_ts: str | None
    at: float

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True, slots=True)
class View:
    """A modal or Home tab as the user sees it right now."""

    id: str
    type: str
    user_id: str
    blocks: list[JSON]
    state_values: dict[str, dict[str, JSON]]
    private_metadata: str
    callback_id: str
    hash: str
    errors: dict[str, str]
    open: bool
    external_id: str = ""
    title: JSON | None = None
    submit: JSON | None = None
    close: JSON | None = None
    root_view_id: str | None = None
    previous_view_id: str | None = None
    notify_on_close: bool = False
    clear_on_close: bool = False

    def value(self, block_id: str, action_id: str) -> JSON | None:
        """The typed state entry of one element, e.g. {"type": "plain_text_input", "value": "x"}."""
        return self.state_values.get(block_id, {}).get(action_id)


class SimulatorError(Exception):
    """A test asked the simulator for something a Slack user could not do."""


class ElementNotFoundError(SimulatorError):
    """The element a test wants to use is not on screen."""


class AckTimeoutError(SimulatorError):
    """The app did not ack an envelope in time (Slack would show the user an error)."""


class NoConnectionError(SimulatorError):
    """No Socket Mode connection was open to deliver an envelope to."""


class SlackLimitError(SimulatorError):
    """Something the app answered breaks a Slack limit; Slack would refuse it."""

    def __init__(self, violations: list[LimitViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(str(v) for v in violations))
