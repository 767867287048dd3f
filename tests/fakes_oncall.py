"""Loopback fakes of PagerDuty's and Opsgenie's REST APIs, answering in their documented shapes.

Both serve HTTPS (the ``pagerduty`` client refuses any other scheme) with a self-signed
certificate for 127.0.0.1 made here; a client trusts it through ``ca_file``. Who is on call is
whatever the test says (``put``), not computed from a calendar: the test's clock decides what
"now" is, and the fakes only serve it.

- PagerDuty: ``GET /oncalls`` with ``schedule_ids[]``, ``escalation_policy_ids[]``,
  ``include[]=users``, classic pagination (``offset``, ``limit``, ``more``, ``total``), and
  ``Authorization: Token token=…``.
- Opsgenie: ``GET /v2/schedules/{identifier}/on-calls`` (``scheduleIdentifierType``, ``flat``,
  ``date``), ``GET /v2/schedules/{identifier}/timeline`` (``finalTimeline`` periods) and
  ``GET /v2/schedules`` (``offset``/``limit`` paging with ``paging.next``), and
  ``Authorization: GenieKey …``.

Either can be told to fail: an HTTP status for the next *n* calls (401, 429, 500, ...), or to
stall past the client's timeout.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGERDUTY_TOKEN = "pd-test-token-0123456789"
OPSGENIE_KEY = "og-test-key-0123456789"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files; the certificate is its own CA.
    Made once per directory, so fakes serving from one directory share one CA file."""
    cert_path, key_path = directory / "oncall-fake.pem", directory / "oncall-fake.key"
    if cert_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(frozen=True)
class OnCallEntry:
    email: str
    end: datetime | None
    start: datetime | None = None
    level: int = 1


@dataclass
class _Failures:
    status: int = 0
    times: int = 0
    stall: float = 0.0
    stall_times: int = 0


@dataclass
class FakeApi:
    """State shared by a fake's handler threads."""

    token: str
    on_call: dict[str, list[OnCallEntry]] = field(default_factory=dict)
    """Schedule or escalation policy identifier → who is on call now."""
    calls: list[str] = field(default_factory=list)
    """Each request's path and query, in order."""
    failures: _Failures = field(default_factory=_Failures)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def put(self, identifier: str, *entries: OnCallEntry) -> None:
        with self.lock:
            self.on_call[identifier] = list(entries)

    def fail(self, status: int, *, times: int = 1_000_000) -> None:
        """Answer ``status`` to the next ``times`` calls (every one, by default)."""
        with self.lock:
            self.failures = _Failures(status=status, times=times)

    def stall(self, seconds: float, *, times: int = 1_000_000) -> None:
        """Answer only after ``seconds`` (past the client's timeout), ``times`` calls."""
        with self.lock:
            self.failures = _Failures(stall=seconds, stall_times=times)
        self.released.clear()

    def heal(self) -> None:
        with self.lock:
            self.failures = _Failures()
        self.released.set()

    def call_count(self, fragment: str = "") -> int:
        with self.lock:
            return sum(1 for c in self.calls if fragment in c)

    def _next_failure(self) -> tuple[int, float]:
        with self.lock:
            f = self.failures
            if f.times > 0:
                f.times -= 1
                return f.status, 0.0
            if f.stall_times > 0:
                f.stall_times -= 1
                return 0, f.stall
            return 0, 0.0


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi
    kind: str
    page_size_cap: int = 2
    """PagerDuty pages hold at most this many on-calls, so every test walks the pagination."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        with self.api.lock:
            self.api.calls.append(self.path)
        status, stall = self.api._next_failure()
        if stall:
            self.api.released.wait(stall)
        if status:
            self._send(status, {"error": {"message": "failure asked by the test", "code": status}})
            return
        if self.kind == "pagerduty":
            self._pagerduty(parts.path, query)
        else:
            self._opsgenie(parts.path, query)

    # -- PagerDuty --------------------------------------------------------------------------

    def _pagerduty(self, path: str, query: dict[str, list[str]]) -> None:
        if self.headers.get("Authorization") != f"Token token={self.api.token}":
            self._send(401, {"error": {"message": "Unauthorized", "code": 2006}})
            return
        if path != "/oncalls":
            self._send(404, {"error": {"message": "Not Found", "code": 2100}})
            return
        wanted = query.get("schedule_ids[]", []) + query.get("escalation_policy_ids[]", [])
        by_schedule = "schedule_ids[]" in query
        users = "users" in query.get("include[]", [])
        rows: list[dict[str, Any]] = []
        with self.api.lock:
            for identifier in wanted:
                for entry in self.api.on_call.get(identifier, []):
                    user: dict[str, Any] = {
                        "id": f"PU{abs(hash(entry.email)) % 10**6:06d}",
                        "type": "user_reference" if not users else "user",
                        "summary": entry.email.split("@")[0],
                    }
                    if users:
                        user |= {"name": entry.email.split("@")[0], "email": entry.email}
                    rows.append(
                        {
                            "escalation_policy": {
                                "id": "PESC0",
                                "type": "escalation_policy_reference",
                            },
                            "escalation_level": entry.level,
                            "schedule": {"id": identifier, "type": "schedule_reference"}
                            if by_schedule
                            else None,
                            "user": user,
                            "start": _iso(entry.start),
                            "end": _iso(entry.end),
                        }
                    )
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", ["25"])[0]), self.page_size_cap)
        page = rows[offset : offset + limit]
        total = len(rows) if query.get("total", ["false"])[0] == "true" else None
        self._send(
            200,
            {
                "oncalls": page,
                "limit": limit,
                "offset": offset,
                "more": offset + limit < len(rows),
                "total": total,
            },
        )

    # -- Opsgenie ---------------------------------------------------------------------------

    def _opsgenie(self, path: str, query: dict[str, list[str]]) -> None:
        if self.headers.get("Authorization") != f"GenieKey {self.api.token}":
            self._send(
                401, {"message": "Could not authenticate", "took": 0.001, "requestId": _rid()}
            )
            return
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if segments == ["v2", "schedules"]:
            self._opsgenie_list(query)
            return
        if len(segments) != 4 or segments[:2] != ["v2", "schedules"]:
            self._send(404, {"message": "Not found", "took": 0.001, "requestId": _rid()})
            return
        identifier, what = segments[2], segments[3]
        with self.api.lock:
            entries = list(self.api.on_call.get(identifier, []))
            known = identifier in self.api.on_call
        if not known:
            self._send(
                404,
                {"message": f"Schedule with identifier [{identifier}] not found", "took": 0.0},
            )
            return
        parent = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, identifier)), "name": identifier}
        if what == "on-calls":
            if query.get("flat", ["false"])[0] == "true":
                data: dict[str, Any] = {
                    "_parent": parent | {"enabled": True},
                    "onCallRecipients": [e.email for e in entries],
                }
            else:
                data = {
                    "_parent": parent | {"enabled": True},
                    "onCallParticipants": [
                        {"id": _rid(), "name": e.email, "type": "user"} for e in entries
                    ],
                }
            self._send(200, {"data": data, "took": 0.01, "requestId": _rid()})
        elif what == "timeline":
            periods = [
                {
                    "startDate": _iso(e.start or datetime(2000, 1, 1, tzinfo=UTC)),
                    "endDate": _iso(e.end or datetime(2100, 1, 1, tzinfo=UTC)),
                    "type": "default",
                    "recipient": {"id": _rid(), "type": "user", "name": e.email},
                }
                for e in entries
            ]
            self._send(
                200,
                {
                    "data": {
                        "_parent": parent,
                        "startDate": query.get("date", [""])[0],
                        "finalTimeline": {
                            "rotations": [
                                {"id": _rid(), "name": "primary", "order": 1, "periods": periods}
                            ]
                        },
                    },
                    "took": 0.02,
                    "requestId": _rid(),
                },
            )
        else:
            self._send(404, {"message": "Not found", "took": 0.001, "requestId": _rid()})

    def _opsgenie_list(self, query: dict[str, list[str]]) -> None:
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["20"])[0])
        with self.api.lock:
            names = sorted(self.api.on_call)
        items = [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, n)), "name": n, "enabled": True}
            for n in names[offset : offset + limit]
        ]
        host = f"https://{self.headers.get('Host')}"
        paging: dict[str, str] = {
            "first": f"{host}/v2/schedules?limit={limit}&offset=0",
            "last": f"{host}/v2/schedules?limit={limit}&offset={max(len(names) - limit, 0)}",
        }
        if offset + limit < len(names):
            paging["next"] = f"{host}/v2/schedules?limit={limit}&offset={offset + limit}"
        self._send(200, {"data": items, "paging": paging, "took": 0.01, "requestId": _rid()})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up waiting (a stall longer than its timeout)


def _rid() -> str:
    return str(uuid.uuid4())


@dataclass
class RunningFake:
    api: FakeApi
    url: str
    ca_file: Path


@contextmanager
def serving(kind: str, *, directory: Path) -> Iterator[RunningFake]:
    """A fake of ``kind`` (``pagerduty`` or ``opsgenie``) on a free loopback port."""
    cert, key = self_signed(directory)
    api = FakeApi(token=PAGERDUTY_TOKEN if kind == "pagerduty" else OPSGENIE_KEY)
    handler = type("Handler", (_Handler,), {"api": api, "kind": kind})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield RunningFake(
            api=api, url=f"https://127.0.0.1:{server.server_address[1]}", ca_file=cert
        )
    finally:
        api.heal()
        server.shutdown()
        server.server_close()
        thread.join(5)
