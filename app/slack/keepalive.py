"""A Web API client that keeps its HTTP connection open between calls, one per thread.

slack_sdk's ``WebClient`` opens a new connection (and, against Slack, a new TLS session) for
every call. The outbox relay makes one call per message, thousands in a burst such as a mass
expiry, so its client keeps one connection per sending thread instead. Everything else is the
SDK's own: the request it builds, its retry handlers (and the metrics that ride on them), its
``SlackApiError``\\ s. A connection found closed when it is reused is opened again once, at once:
a message is sent at least once anyway (docs/architecture.md, "Durable time").
"""

from __future__ import annotations

import http.client
import io
import ssl
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""What a connection the server closed while it was idle raises when it is used again."""


class KeepAliveWebClient(WebClient):
    """``WebClient`` over persistent connections (none through a proxy: the SDK's way then)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = threading.local()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(req.header_items())
        for attempt in (1, 2):
            connection, reused = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request("POST", target, body=req.data, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except _STALE:
                self._drop()
                if reused and attempt == 1:
                    continue
                raise
            except OSError as error:
                self._drop()
                raise URLError(error) from error  # as urllib reports a failed connection
            except BaseException:
                self._drop()
                raise
            if response.will_close:
                self._drop()
            return _result(url, response, body)
        raise AssertionError("unreachable")

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to ``netloc``, and whether it was used before."""
        key = (scheme, netloc)
        held: tuple[tuple[str, str], http.client.HTTPConnection] | None = getattr(
            self._local, "held", None
        )
        if held is not None and held[0] == key:
            return held[1], True
        self._drop()
        connection: http.client.HTTPConnection
        if scheme == "https":
            context = self.ssl or ssl.create_default_context()
            connection = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=context)
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
        self._local.held = (key, connection)
        return connection, False

    def _drop(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held[1].close()


def _result(url: str, response: http.client.HTTPResponse, body: bytes) -> dict[str, Any]:
    """What the SDK's own transport returns, or raises for a status other than 2xx."""
    if not 200 <= response.status < 300:
        raise HTTPError(url, response.status, response.reason, response.headers, io.BytesIO(body))
    if response.headers.get_content_type() == "application/gzip":
        return {"status": response.status, "headers": response.headers, "body": body}
    charset = response.headers.get_content_charset() or "utf-8"
    return {"status": response.status, "headers": response.headers, "body": body.decode(charset)}
