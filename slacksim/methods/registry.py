"""Which Web API methods exist, which token each needs, and shared argument helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import jsonio
from ..blockkit import texts_of
from ..limits import Problem
from ..state import ApiError, SlackState

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallContext:
    method: str
    at: float  # perf_counter at arrival


Handler = Callable[[SlackState, JSON, CallContext], JSON]


@dataclass(frozen=True, slots=True)
class MethodSpec:
    handler: Handler
    auth: str  # which token the method takes: "bot", "app" or "none"


REGISTRY: dict[str, MethodSpec] = {}


def method(name: str, *, auth: str = "bot") -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = MethodSpec(handler, auth)
        return handler

    return register


# --- argument helpers ----------------------------------------------------------------------


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def as_json(value: Any, *, name: str) -> Any:
    """Form-encoded clients send structured arguments (view, blocks, files) as JSON strings."""
    if isinstance(value, str):
        try:
            return jsonio.loads(value)
        except json.JSONDecodeError as e:
            raise ApiError(f"invalid_{name}") from e
    return value


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def invalid_arguments(message: str) -> ApiError:
    return ApiError("invalid_arguments", extra=_messages([f"[ERROR] {message}"]))


def required(args: JSON, name: str) -> Any:
    value = args.get(name)
    if value is None or value == "":
        raise invalid_arguments(f"missing required field: {name}")
    return value


def optional_str(args: JSON, name: str) -> str | None:
    value = args.get(name)
    return None if value is None or value == "" else str(value)


def _messages(lines: list[str]) -> JSON:
    return {"response_metadata": {"messages": lines}}


def refuse(state: SlackState, ctx: CallContext, problems: list[Problem]) -> None:
    """Record the problems as violations and answer as Slack does; no-op when there are none."""
    if not problems:
        return
    state.recorder.add_violations(ctx.method, problems)
    raise ApiError(problems[0].error, extra=_messages([p.slack_message() for p in problems]))


def note_blocks(text: str, blocks: Iterable[JSON]) -> list[str]:
    lines = [line for t in texts_of(list(blocks)) for line in t.splitlines() if line.strip()]
    return lines if lines or not text else []
