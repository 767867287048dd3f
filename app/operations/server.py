"""The HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` on ``HTTP_HOST:HTTP_PORT``.

A small WSGI app served by the standard library on one daemon thread (a thread per request, so
a slow scrape never holds up a probe); ``/metrics`` is prometheus_client's own WSGI app on this
application's registry.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app

from app.operations.probes import Probe

_log = logging.getLogger(__name__)

JSON_HEADERS: Final = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # Probes arrive every few seconds; a line each would drown the bot's own log.
        return


class OperationsServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        liveness: Probe,
        readiness: Probe,
    ) -> None:
        self._host = host
        self._port = port
        self._metrics = make_wsgi_app(registry)
        self._liveness = liveness
        self._readiness = readiness
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the setting's, or the one picked for 0)."""
        return self._server.server_port if self._server is not None else self._port

    def start(self) -> None:
        self._server = make_server(
            self._host, self._port, self, server_class=_Server, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="operations-http", daemon=True
        )
        self._thread.start()
        _log.info(
            "health and metrics served over HTTP", extra={"host": self._host, "port": self.port}
        )

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._liveness.close()
        self._readiness.close()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return self._verdict(self._liveness, start_response)
        if path == "/readyz":
            return self._verdict(self._readiness, start_response)
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /healthz, /readyz or /metrics\n"]

    @staticmethod
    def _verdict(probe: Probe, start_response: StartResponse) -> Iterable[bytes]:
        verdict = probe.run()
        # A fresh list: the server appends Content-Length to the one it is given.
        start_response("200 OK" if verdict.ok else "503 Service Unavailable", list(JSON_HEADERS))
        return [json.dumps(verdict.body(), sort_keys=True).encode() + b"\n"]
