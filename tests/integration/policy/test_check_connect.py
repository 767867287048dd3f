"""``python -m app check --connect``: every admin login checked, never a secret printed."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.cli import main
from app.integrations.base import IntegrationError
from app.policy.check import EXIT_INVALID, EXIT_NOT_READY, EXIT_UNREADABLE, EXIT_VALID, run_check
from domain.policy import IntegrationSpec
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.integration

SECRET = "hook-secret-do-not-print-9f3a"
LACKS_CREATEROLE = "The admin login lacks CREATEROLE, needed to create temporary accounts."
LACKS_KILL = "The admin login cannot end other sessions (pg_signal_backend)."


@dataclass
class Receiver:
    """A webhook endpoint: answers ``status`` and records each call's action and signature."""

    status: int = 200
    url: str = ""
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def handle(self, headers: Mapping[str, str], body: bytes) -> int:
        timestamp = headers.get("x-jit-timestamp", "")
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        signed = hmac.compare_digest(
            headers.get("x-jit-signature", ""), f"v1={expected.hexdigest()}"
        )
        self.calls.append((str(json.loads(body).get("action")), signed))
        return self.status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jit"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def policy_file(tmp_path: Path, url: str, *, extra: str = "") -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - name: ops-hook\n"
        "    type: webhook\n"
        "    permissions: [viewer]\n"
        f"    connection: {{url: '{url}', secret: '${{OPS_HOOK_SECRET}}', timeout_seconds: 2,"
        " retries: 0, resources: [cluster]}\n"
        f"{extra}"
        "access_flows:\n"
        "  - name: f\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: ops-hook, resource: cluster, permission: viewer}]\n"
        "    approvers: automatic\n"
        "    duration: {default: 1h, max: 1h}\n"
    )
    return path


def cli(args: list[str]) -> tuple[int, list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(args, out=out, err=err)
    return code, out.getvalue().splitlines(), out.getvalue() + err.getvalue()


def test_check_connect_calls_the_webhooks_check_action_and_prints_ok_when_it_answers_2xx(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")  # the receiver is http://127.0.0.1
    path = policy_file(tmp_path, receiver.url)

    code, lines, printed = cli(["check", "--connect", str(path)])

    assert lines == [
        f"{path}: valid (1 integration, 0 bundles, 1 access flow; 0 warnings)",
        "ops-hook: ok",
    ]
    assert code == EXIT_VALID
    assert receiver.calls == [("check", True)]  # signed with the secret from the environment
    assert SECRET not in printed


def test_check_connect_prints_why_and_exits_1_when_the_webhook_refuses_the_check(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")  # the receiver is http://127.0.0.1
    receiver.status = 403
    path = policy_file(tmp_path, receiver.url)

    code, lines, printed = cli(["check", str(path), "--connect"])

    assert code == EXIT_NOT_READY
    assert len(lines) == 2
    assert lines[1].startswith("ops-hook: missing: ")
    assert "403" in lines[1]
    assert SECRET not in printed


def test_without_connect_the_check_never_contacts_an_integration(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")  # the receiver is http://127.0.0.1

    code, lines, _ = cli(["check", str(policy_file(tmp_path, receiver.url))])

    assert code == EXIT_VALID
    assert len(lines) == 1
    assert receiver.calls == []


def test_an_invalid_policy_is_not_connected_to_and_keeps_its_exit_codes(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOKS", "true")  # the receiver is http://127.0.0.1
    broken = policy_file(tmp_path, receiver.url, extra="bundles: 7\n")

    code, lines, _ = cli(["check", "--connect", str(broken)])

    assert code == EXIT_INVALID
    assert not any(line.startswith("ops-hook:") for line in lines)
    assert receiver.calls == []
    assert cli(["check", "--connect", str(tmp_path / "absent.yml")])[0] == EXIT_UNREADABLE


def two_integrations(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - name: prod-pg\n"
        "    type: postgresql\n"
        "    connection: {host: h, database: d, user: u, password: '${PG_PASSWORD}'}\n"
        "  - {name: cache, type: redis, connection: {url: 'redis://h:6379/0'}}\n"
        "access_flows:\n"
        "  - name: f\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: cache, resource: 'a:*', permission: read_only}]\n"
        "    approvers: automatic\n"
        "    duration: {default: 1h, max: 1h}\n"
    )
    return path


def test_each_thing_a_login_lacks_is_one_missing_line_and_the_check_exits_1(
    tmp_path: Path,
) -> None:
    lacking = {"prod-pg": [LACKS_CREATEROLE, LACKS_KILL], "cache": []}

    def build(spec: IntegrationSpec, env: Mapping[str, str]) -> RecordingIntegration:
        spec.connection_model(env)  # the secrets resolve from the environment given
        return RecordingIntegration(name=spec.name, type_name=spec.type, missing=lacking[spec.name])

    out = io.StringIO()
    code = run_check(
        path=two_integrations(tmp_path),
        env={"PG_PASSWORD": "pw-7Hq2"},
        out=out,
        connect=True,
        build=build,
    )

    assert out.getvalue().splitlines()[1:] == [
        f"prod-pg: missing: {LACKS_CREATEROLE}",
        f"prod-pg: missing: {LACKS_KILL}",
        "cache: ok",
    ]
    assert code == EXIT_NOT_READY
    lacking["prod-pg"] = []
    out = io.StringIO()
    code = run_check(
        path=two_integrations(tmp_path),
        env={"PG_PASSWORD": "pw-7Hq2"},
        out=out,
        connect=True,
        build=build,
    )
    assert out.getvalue().splitlines()[1:] == ["prod-pg: ok", "cache: ok"]
    assert code == EXIT_VALID


@dataclass
class Leaky(RecordingIntegration):
    """A preflight whose error message quotes the password (it must not, but if it did)."""

    password: str = ""

    def preflight(self) -> list[str]:
        raise IntegrationError(f"{self.name}: login failed for password {self.password}")


def test_a_secret_in_an_integrations_message_is_masked_in_the_output(tmp_path: Path) -> None:
    password = "pw-7Hq2-secret"

    def build(spec: IntegrationSpec, env: Mapping[str, str]) -> RecordingIntegration:
        return Leaky(name=spec.name, password=env["PG_PASSWORD"])

    out = io.StringIO()
    code = run_check(
        path=two_integrations(tmp_path),
        env={"PG_PASSWORD": password},
        out=out,
        connect=True,
        build=build,
    )

    assert code == EXIT_NOT_READY
    assert password not in out.getvalue()
    assert "prod-pg: error: prod-pg: login failed for password ***" in out.getvalue()


def test_on_the_real_servers_every_login_passes_and_the_missing_safeguards_are_noted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - name: prod-pg\n"
        "    type: postgresql\n"
        "    connection: {host: 127.0.0.1, database: test, user: postgres}\n"
        "  - {name: cache, type: redis, connection: {url: 'redis://127.0.0.1:6379/0'}}\n"
        "  - {name: shop, type: mysql, connection: {host: 127.0.0.1, user: root}}\n"
    )

    code, lines, _ = cli(["check", "--connect", str(path)])

    assert lines[1:] == [
        "prod-pg: ok",
        "cache: ok",
        "cache: note: Redis has no expiry for ACL users: if the bot is down at the end of access,"
        " the user stays until the bot is back (its start-up ends what fell due and reconciles).",
        "shop: ok",
        "shop: note: The server-side safeguard is off: no safeguard_database is set, so only the"
        " bot's revoke ends access on this server.",
    ]
    assert code == EXIT_VALID
