"""``python -m app policy export|import``: the GitOps side of bundles and flows."""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import OperationalError

from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.sealing import Sealer
from app.policy.exchange import apply_import, diff_policy, export_policy
from app.policy.export import dump_policy
from app.policy.loader import load_policy
from app.settings import SettingsError, audit_keys_from_env, max_access_duration_from_env
from domain.clock import SystemClock
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store

EXIT_USAGE = 2


def add_commands(policy_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = policy_commands.add_parser(
        "export", help="write the current bundles and flows, with the file's integrations"
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    imported = policy_commands.add_parser(
        "import", help="show what a policy file would change, then apply it"
    )
    imported.add_argument("file", type=Path)
    imported.add_argument("--yes", action="store_true", help="apply without asking")


def _load(path: Path, env: Mapping[str, str], err: TextIO) -> Policy | None:
    if not path.exists():
        err.write(f"error: {path} does not exist\n")
        return None
    try:
        cap = max_access_duration_from_env(env)
    except SettingsError as error:
        err.write(f"error: {error}\n")
        return None
    loaded = load_policy(path=path, env=None, max_duration=cap)
    if loaded.policy is None:
        for problem in loaded.errors:
            err.write(problem.format(source=str(path)) + "\n")
        err.write(f"error: {path} is not a valid policy (python -m app check {path})\n")
        return None
    return loaded.policy


def run(
    args: argparse.Namespace,
    *,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str],
    policy_path: Path,
    database_url: str,
    confirm: Callable[[str], str] | None = None,
) -> int:
    running = _load(policy_path, env, err)
    if running is None:
        return EXIT_USAGE
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        # The bot's audit keys, so the import's audit event continues the keyed chain.
        store = Store(engine=engine, audit_keys=audit_keys_from_env(env))
        catalog = CatalogService(store=store, clock=SystemClock())
        catalog.sync_policy(running)
        if args.policy_command == "export":
            text = dump_policy(policy=export_policy(running=running, catalog=catalog))
            if args.out:
                args.out.write_text(text)
                err.write(f"wrote {args.out}\n")
            else:
                out.write(text)
            return 0
        incoming = _load(args.file, env, err)
        if incoming is None:
            return EXIT_USAGE
        current = export_policy(running=running, catalog=catalog)
        diff = diff_policy(current=current, incoming=incoming)
        for line in diff.lines():
            out.write(line + "\n")
        if diff.empty:
            return 0
        ask = confirm or input  # looked up now, so a test (or a wrapper) can answer
        if not args.yes and ask("Apply these changes? [y/N] ").strip().lower() not in (
            "y",
            "yes",
        ):
            out.write("nothing applied\n")
            return 1
        notifier = Notifier(
            audit_channel=env.get("AUDIT_CHANNEL") or None,
            sealer=Sealer.derived_from(secret=secrets.token_hex(16)),
        )
        apply_import(
            incoming=incoming,
            diff=diff,
            catalog=catalog,
            store=store,
            notifier=notifier,
            at=SystemClock().now(),
            by=f"cli:{os.environ.get('USER', 'unknown')}",
        )
        out.write("applied\n")
        return 0
    except SettingsError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    except OperationalError as error:
        err.write(f"cannot reach the database: {error.orig}\n")
        return 1
    finally:
        engine.dispose()
