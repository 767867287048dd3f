"""The relay's Web API client keeps its connection open, reconnects to a server that closed it,
and reports Slack's errors exactly as the SDK's own transport does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from slack_sdk.errors import SlackApiError

from app.slack.client import make_web_client


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[tuple[str, int]]] = set()
    close_after_each = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _Handler.connections.add(self.client_address)
        if self.path.endswith("/chat.postMessage"):
            status, body = 200, {"ok": True, "channel": "C1", "ts": "1.0"}
        else:
            status, body = 429, {"ok": False, "error": "ratelimited"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "7")
        self.end_headers()
        self.wfile.write(data)
        if _Handler.close_after_each:
            # Closed without saying so, as a server does with a connection left idle too long.
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.connections = set()
    _Handler.close_after_each = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/"
    httpd.shutdown()
    httpd.server_close()


def test_calls_from_one_thread_share_one_connection(server: str) -> None:
    client = make_web_client(token="xoxb-1", base_url=server, retries=False, keep_alive=True)
    for _ in range(5):
        assert client.chat_postMessage(channel="C1", text="hi")["ts"] == "1.0"
    assert len(_Handler.connections) == 1


def test_a_connection_the_server_closed_is_opened_again(server: str) -> None:
    _Handler.close_after_each = True
    client = make_web_client(token="xoxb-1", base_url=server, retries=False, keep_alive=True)
    client.retry_handlers.clear()  # the reconnect is the client's own, not a retry handler's
    for _ in range(3):
        assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert len(_Handler.connections) == 3


@pytest.mark.parametrize("keep_alive", [False, True])
def test_a_rate_limit_is_the_sdks_error_with_its_retry_after(server: str, keep_alive: bool) -> None:
    client = make_web_client(token="xoxb-1", base_url=server, retries=False, keep_alive=keep_alive)
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C1", ts="1.0", text="hi")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "7"
