"""The Web API over HTTP on loopback: parsing what slack_sdk sends, auth, faults, recording."""

from __future__ import annotations

import email
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import jsonio
from .faults import Faults
from .methods import REGISTRY, CallContext
from .methods.files import receive_upload
from .methods.response_url import handle_response_url
from .models import ApiCall
from .state import ApiError, SlackState

JSON = dict[str, Any]


def parse_body(content_type: str, body: bytes) -> JSON:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if kind == "application/json":
        parsed = jsonio.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    if kind == "multipart/form-data":
        message = email.message_from_bytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        out: JSON = {}
        for part in message.get_payload():
            if not isinstance(part, email.message.Message):
                continue
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(data, bytes):
                out[name] = data if part.get_filename() else data.decode()
        return out
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


class WebApi:
    """One call: faults first (an outage hides everything), then auth, then the method."""

    def __init__(self, *, state: SlackState, faults: Faults) -> None:
        self.state = state
        self.faults = faults

    def call(
        self, method: str, args: JSON, token: str | None, at: float
    ) -> tuple[int, dict[str, str], JSON]:
        delay = self.faults.delay_for(method)
        if delay:
            time.sleep(delay)
        channel = args.get("channel")
        failure = self.faults.failure_for(
            method, channel=channel if isinstance(channel, str) else None
        )
        if failure is not None:
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            body: JSON = {"ok": False, "error": failure.error}
            self._record(method, args, at, body, status=failure.status, injected=True)
            return failure.status, headers, body
        body = self._dispatch(method, args, token, at)
        self._record(method, args, at, body)
        return 200, {}, body

    def _dispatch(self, method: str, args: JSON, token: str | None, at: float) -> JSON:
        spec = REGISTRY.get(method)
        if spec is None:
            return {"ok": False, "error": "unknown_method"}
        state = self.state
        if spec.auth != "none":
            if token not in {state.bot_token, state.app_token}:
                return {"ok": False, "error": "invalid_auth"}
            wanted = state.app_token if spec.auth == "app" else state.bot_token
            if token != wanted:
                return {"ok": False, "error": "not_allowed_token_type"}
        try:
            with state.lock:
                result = spec.handler(state, args, CallContext(method, at))
        except ApiError as e:
            return {"ok": False, "error": e.error, **e.extra}
        return {"ok": True, **result}

    def response_url(self, token: str, body: JSON, at: float) -> JSON:
        try:
            with self.state.lock:
                handle_response_url(self.state, token, body, CallContext("response_url", at))
        except ApiError as e:
            result: JSON = {"ok": False, "error": e.error, **e.extra}
        else:
            result = {"ok": True}
        self._record("response_url", body, at, result)
        return result

    def upload(self, file_id: str, content: bytes, at: float) -> bool:
        ok = receive_upload(self.state, file_id, content)
        self._record("upload_url", {"file_id": file_id, "length": len(content)}, at, {"ok": ok})
        return ok

    def _record(
        self,
        method: str,
        args: JSON,
        at: float,
        body: JSON,
        *,
        status: int = 200,
        injected: bool = False,
    ) -> None:
        ok = bool(body.get("ok"))
        call = ApiCall(
            method=method,
            args=args,
            at=at,
            ok=ok,
            error=None if ok else str(body.get("error")),
            status=status,
            injected=injected,
            response=body,
        )
        self.state.recorder.record_call(call)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection must not hold a thread forever

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs
        # can add tens of milliseconds on loopback, which would swamp latency benchmarks.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def send_response(self, code: int, message: str | None = None) -> None:
        # Without the Server and Date headers: no client reads them, and formatting the date
        # on every call was a measurable share of the simulator's CPU.
        self.send_response_only(code, message)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        at = time.perf_counter()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        api = self.server.api
        if url.path.startswith("/api/"):
            try:
                args: JSON = dict(parse_qsl(url.query, keep_blank_values=True))
                args.update(parse_body(self.headers.get("Content-Type", ""), raw))
            except (ValueError, UnicodeDecodeError):
                self._send(200, {}, {"ok": False, "error": "invalid_form_data"})
                return
            token = _bearer(self.headers.get("Authorization"))
            body_token = args.pop("token", None)
            status, headers, body = api.call(
                url.path[len("/api/") :], args, token or body_token, at
            )
            self._send(status, headers, body)
        elif url.path.startswith("/upload/v1/"):
            ok = api.upload(url.path.rsplit("/", 1)[-1], raw, at)
            self._send_raw(
                200 if ok else 404, f"OK - {len(raw)}" if ok else "not found", "text/plain"
            )
        elif url.path.startswith("/response/"):
            try:
                payload = jsonio.loads(raw or b"{}")
            except ValueError:
                payload = {}
            self._send(200, {}, api.response_url(url.path.rsplit("/", 1)[-1], payload, at))
        else:
            self._send_raw(404, "not found", "text/plain")

    def _send(self, status: int, headers: dict[str, str], body: JSON) -> None:
        self._send_bytes(status, jsonio.encode(body), "application/json; charset=utf-8", headers)

    def _send_raw(
        self, status: int, text: str, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, text.encode(), content_type, headers)

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many short connections at once

    def __init__(self, api: WebApi) -> None:
        self.api = api
        super().__init__(("127.0.0.1", 0), _Handler)


class WebApiServer:
    def __init__(self, api: WebApi) -> None:
        self._server = _Server(api)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="slacksim-webapi",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
