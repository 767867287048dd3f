"""Signed checkpoints of the audit log leave the database: the audit channel (through the
outbox, as people see it in Slack), the audit webhook and the checkpoint file, at each run of
the worker and at shutdown; `audit verify` checks the log against them and refuses a checkpoint
forged without the key (issue 14, "Evidence that holds up")."""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from domain.audit import Checkpoint, parse_key, sign_checkpoint
from slacksim import texts_of
from tests.e2e.conftest import StartBot
from tests.e2e.harness import AUDIT, DAVE, Bot

pytestmark = pytest.mark.e2e


class Receiver:
    """The audit webhook: a loopback server that keeps what it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/audit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.server.shutdown()


def head(bot: Bot) -> int:
    with bot.app.store.read() as uow:
        last = uow.audit.head()
    return last.id if last is not None else 0


def refused_report(bot: Bot) -> int:
    """Dave is no admin: `/apono report` is refused and audited; returns the new head."""
    before = head(bot)
    bot.sim.slash_command(DAVE, text="report")
    return bot.sim.wait_for(lambda: head(bot) if head(bot) > before else None)


def slack_checkpoints(bot: Bot) -> list[Checkpoint]:
    found = []
    for message in bot.sim.messages(AUDIT):
        text = message.text + " " + " ".join(texts_of(message.blocks))
        if "Audit log checkpoint" in text:
            found.append(Checkpoint.from_json(json.loads(re.findall(r"`(\{[^`]+\})`", text)[0])))
    return found


def file_checkpoints(path: Path) -> list[Checkpoint]:
    if not path.exists():
        return []
    return [Checkpoint.from_json(json.loads(line)) for line in path.read_text().splitlines()]


def verify(*extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", *extra], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_checkpoints_reach_the_channel_the_webhook_and_the_file_and_the_log_verifies_against_them(
    start: StartBot,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = secrets.token_hex(32)
    file = tmp_path / "checkpoints.jsonl"
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bot = start(
        sweeps=False,
        database_url=database_url,
        audit_key=key,
        audit_checkpoint_file=str(file),
        audit_webhook_url=receiver.url,
    )
    first = refused_report(bot)

    bot.app.run_now("checkpoint")
    published = bot.sim.wait_for(lambda: slack_checkpoints(bot) or None)
    assert [c.seq for c in published] == [first]
    assert file_checkpoints(file) == published
    assert [Checkpoint.from_json(b) for b in receiver.bodies] == published
    assert receiver.bodies[0]["type"] == "audit_checkpoint"
    bot.app.run_now("checkpoint")  # nothing new: nothing published again
    assert len(file_checkpoints(file)) == 1

    second = refused_report(bot)
    bot.app.stop(wait_for_socket=False)  # shutdown publishes the head it reached
    assert [c.seq for c in file_checkpoints(file)] == [first, second]

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AUDIT_KEY", key)
    monkeypatch.setenv("AUDIT_CHECKPOINT_FILE", str(file))
    code, said = verify("--checkpoint", json.dumps(published[0].to_json()))
    assert code == 0, said
    code, said = verify()  # the file's last line: the shutdown checkpoint
    assert code == 0, said
    assert f"at #{second})" in said

    forged = sign_checkpoint(
        key=parse_key(secrets.token_hex(32)), seq=second + 5, head="f" * 64, at=published[0].at
    ).to_json()
    forged["key_id"] = parse_key(key).key_id
    code, said = verify("--checkpoint", json.dumps(forged))
    assert code == 1
    assert said.startswith("checkpoint rejected: the checkpoint is not signed by a configured")
