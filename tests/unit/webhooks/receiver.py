"""A request webhook receiver on a loopback port, as a real one would be written: it checks
every signature and timestamp, validates every body against the shipped schema and records
what it accepted. It can be told to be down (503), to answer too late, or to redirect."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs/schemas/request-event.v1.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
ALLOWED_SKEW = 300


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    secret: str
    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every event accepted (answered 2xx), duplicates included, in arrival order."""
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Anything wrong with a call: a bad signature, a stale timestamp, a body off the schema."""
    down: bool = False
    """Answer 503 (with Retry-After when ``retry_after`` is set) without taking the event."""
    retry_after: int | None = None
    slow: float = 0.0
    """Take the event, then wait this long before answering (the sender may have given up)."""
    redirect_to: str | None = None
    on_event: Callable[[dict[str, Any]], object] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.events]

    def types_for(self, request_id: str) -> list[str]:
        with self.lock:
            seen: dict[str, str] = {}
            for event in self.events:
                if event["request"]["id"] == request_id:
                    seen.setdefault(event["id"], event["type"])
            return list(seen.values())

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.redirect_to is not None and path != self.redirect_to:
            return 302
        if self.down:
            return 503
        problem = verify(secret=self.secret, headers=headers, body=body)
        event: dict[str, Any] = json.loads(body) if not problem else {}
        if not problem:
            errors = [e.message for e in VALIDATOR.iter_errors(event)]
            problem = "; ".join(errors)
            if not problem and headers.get("x-jit-event-id") != event["id"]:
                problem = "the event ID header does not match the body"
            if not problem and headers.get("x-jit-event-type") != event["type"]:
                problem = "the event type header does not match the body"
        if problem:
            with self.lock:
                self.problems.append(problem)
            return 400
        with self.lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        if self.slow:
            time.sleep(self.slow)
        return 204


def verify(*, secret: str, headers: dict[str, str], body: bytes) -> str:
    """Why a call is not to be trusted, or ``""`` (``headers`` with lower-case names)."""
    stamp = headers.get("x-jit-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > ALLOWED_SKEW:
        return "timestamp missing or too far from now"
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(headers.get("x-jit-signature", ""), f"v1={mac}"):
        return "bad signature"
    return ""


@contextmanager
def receiving(secret: str = "hook-secret", *, path: str = "/events") -> Iterator[Receiver]:
    receiver = Receiver(secret=secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            code = receiver.handle(self.path, headers, body)
            with receiver.lock:
                receiver.calls.append(Call(self.path, headers, body, code))
            self.send_response(code)
            if code == 302:
                self.send_header("Location", str(receiver.redirect_to))
            if code == 503 and receiver.retry_after is not None:
                self.send_header("Retry-After", str(receiver.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
