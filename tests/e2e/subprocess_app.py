"""The bot as a separate process (``python -m app``), so a test can kill it with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from domain.policy import Policy
from slacksim import Simulator
from tests.e2e.harness import AUDIT

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no clean-up code of the app runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def write_policy(policy: Policy, path: Path) -> Path:
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json", exclude_defaults=True)))
    return path


def start_app_process(
    sim: Simulator,
    *,
    policy_file: Path,
    database_url: str,
    log: Path,
    env: Mapping[str, str],
) -> AppProcess:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": sim.bot_token,
        "SLACK_APP_TOKEN": sim.app_token,
        "SLACK_API_URL": sim.api_url,
        "DATABASE_URL": database_url,
        "POLICY_FILE": str(policy_file),
        "AUDIT_CHANNEL": AUDIT,
        "LOG_LEVEL": "INFO",
        "CHANNEL_RATE": "1000",
        # The tests' webhook receivers are plain-HTTP loopback servers.
        "ALLOW_INSECURE_WEBHOOKS": "true",
        **env,
    }
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=log.parent,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return AppProcess(process=process, log=log)
