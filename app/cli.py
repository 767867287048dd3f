"""Command line: run the bot (default), check a policy, migrate, and the admin tools.

Expected problems (missing tokens, a bad policy, an unreachable database) end with one readable
message and a non-zero status, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn, TextIO

from dotenv import dotenv_values
from sqlalchemy.exc import OperationalError

from app.policy.cli import add_commands as add_policy_commands

if TYPE_CHECKING:
    from app.bootstrap import Application

EXIT_USAGE: Final = 2
EXIT_FORCED: Final = 1
"""A stop cut short (a second signal, or SHUTDOWN_SECONDS passed); 0 is a graceful stop."""
_log = logging.getLogger("app")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app", description="Just-in-time access bot for Slack."
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")
    check = commands.add_parser("check", help="validate a policy file and print every problem")
    check.add_argument("file", nargs="?", type=Path, help="policy file (default: POLICY_FILE)")
    reach = check.add_mutually_exclusive_group()
    reach.add_argument(
        "--connect",
        action="store_true",
        help="then connect to every integration and check that its admin login can grant and "
        "revoke (secrets from the environment)",
    )
    reach.add_argument(
        "--offline",
        action="store_true",
        help="check without the secrets or the servers, as CI does: ${VAR} references count as "
        "set and nothing connects",
    )
    check.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: FILE:LINE:COL lines (the default); json: one JSON document, "
        "docs/schemas/check-diagnostics.schema.json",
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser(
        "demo", help="play the whole story against a local Slack simulator (no Slack app needed)"
    )
    commands.add_parser(
        "report",
        help="write a CSV report: python -m app report [filters] --out FILE",
        add_help=False,
    )
    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the audit log's keyed chain, and against the latest checkpoint; exit 0 "
        "intact, 1 broken",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE_OR_JSON",
        help="a checkpoint (its JSON, or a JSON Lines file whose last line is one); default: "
        "the last line of AUDIT_CHECKPOINT_FILE",
    )
    export = audit_commands.add_parser(
        "export", help="write the audit log as JSON Lines with each entry's proof, for a SIEM"
    )
    export.add_argument(
        "--since", type=int, default=1, metavar="SEQ", help="from this sequence number on"
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    policy = commands.add_parser("policy", help="policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("schema", help="print the policy's JSON Schema")
    add_policy_commands(policy_commands)
    return parser


def main(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    if list(argv[:1]) == ["report"]:
        # The report's own parser reads every word after `report` (filters and --options).
        from app.reports.cli import report_command

        return report_command(list(argv[1:]), out=out, err=err, env=dict(os.environ))
    args = _parser().parse_args(argv)
    handlers: dict[str | None, Callable[[argparse.Namespace, TextIO, TextIO], int]] = {
        None: _run,
        "run": _run,
        "check": _check,
        "migrate": _migrate,
        "policy": _policy,
        "audit": _audit,
        "demo": _demo,
    }
    return handlers[args.command](args, out, err)


def _policy_path(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    return Path(os.environ.get("POLICY_FILE") or _dotenv("POLICY_FILE") or "policy.yml")


def _dotenv(name: str) -> str | None:
    return dotenv_values(".env").get(name) if Path(".env").exists() else None


def _check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.policy.check import run_check

    if args.connect and args.format == "json":
        err.write("error: --connect prints text only; drop --format json\n")
        return EXIT_USAGE
    # Offline, the environment is not even handed over: nothing in it can change the result.
    return run_check(
        path=_policy_path(args.file),
        env={} if args.offline else dict(os.environ),
        out=out,
        connect=args.connect,
        offline=args.offline,
        output=args.format,
    )


def _policy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.policy.cli import run
    from app.policy.schema import schema_text

    if args.policy_command == "schema":
        out.write(schema_text())
        return 0
    return run(
        args,
        out=out,
        err=err,
        env=dict(os.environ),
        policy_path=_policy_path(None),
        database_url=_database_url(),
    )


def _database_url() -> str:
    from app.settings import DEFAULT_DATABASE_URL

    return os.environ.get("DATABASE_URL") or _dotenv("DATABASE_URL") or DEFAULT_DATABASE_URL


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # The demo brings its own Slack (the simulator); the bot itself never imports it.
    from demo.story import run

    return run(out=out)


def _audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.audit.export import export_log
    from app.audit.verify import CheckpointError, read_checkpoint, verify_log
    from app.settings import SettingsError, audit_keys_from_env
    from store.engine import make_engine
    from store.migrate import upgrade
    from store.unit_of_work import Store

    try:
        keys = audit_keys_from_env(os.environ)
    except SettingsError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    engine = make_engine(_database_url())
    try:
        upgrade(engine)
        store = Store(engine=engine, audit_keys=keys)
        if args.audit_command == "export":
            if args.out is None:
                count = export_log(store=store, since=args.since, out=out)
            else:
                with args.out.open("w", encoding="utf-8") as file:
                    count = export_log(store=store, since=args.since, out=file)
            err.write(f"exported {count:,} events\n")
            return 0
        source = args.checkpoint or _checkpoint_file()
        verdict = verify_log(
            store=store, keys=keys, checkpoint=read_checkpoint(source) if source else None
        )
    except CheckpointError as error:
        err.write(f"checkpoint rejected: {error}\n")
        return 1
    except OperationalError as error:
        err.write(f"cannot reach the database: {error.orig}\n")
        return 1
    finally:
        engine.dispose()
    notes = f" ({'; '.join(verdict.notes)})" if verdict.notes else ""
    if verdict.broken is None:
        out.write(f"audit log intact: {verdict.events:,} events{notes}\n")
        return 0
    broken = verdict.broken
    err.write(f"audit log broken at event #{broken.event_id}: {broken.reason}\n")
    return 1


def _checkpoint_file() -> str | None:
    """The configured checkpoint file, when it is a file that exists (not standard output)."""
    name = os.environ.get("AUDIT_CHECKPOINT_FILE") or _dotenv("AUDIT_CHECKPOINT_FILE")
    return name if name and name != "-" and Path(name).exists() else None


def _migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from store.engine import make_engine
    from store.migrate import current_revision, upgrade

    engine = make_engine(_database_url())
    try:
        upgrade(engine)
        out.write(f"database is at revision {current_revision(engine)}\n")
    except OperationalError as error:
        err.write(f"cannot reach the database: {error.orig}\n")
        return 1
    finally:
        engine.dispose()
    return 0


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from app.bootstrap import build_application
    from app.logs import configure_logging
    from app.policy.loader import load_policy
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if not settings.policy_file.exists():
        err.write(
            f"error: the policy file {settings.policy_file} does not exist. Copy "
            "policy.example.yml to policy.yml and edit it, or set POLICY_FILE.\n"
        )
        return EXIT_USAGE
    loaded = load_policy(
        path=settings.policy_file, env=dict(os.environ), max_duration=settings.max_access_duration
    )
    if loaded.policy is None:
        for problem in loaded.errors:
            err.write(f"{problem.format(source=str(settings.policy_file))}\n")
        err.write(f"error: fix {settings.policy_file} (python -m app check shows the same)\n")
        return EXIT_USAGE
    try:
        application = build_application(settings=settings, policy=loaded.policy)
    except OperationalError as error:
        err.write(f"error: cannot reach the database: {error.orig}\n")
        return 1
    return _serve(application, bound=settings.shutdown_seconds)


def _serve(application: Application, *, bound: float) -> NoReturn:
    """Run until SIGTERM or SIGINT, then stop gracefully within ``bound`` seconds and exit 0;
    a second signal, or the bound passing, exits at once with EXIT_FORCED (docs/architecture.md,
    "Durable time", says why nothing is lost either way)."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stopping.is_set():
            _log.warning("second signal: exiting now", extra={"signal": signum})
            _exit(EXIT_FORCED)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    application.start()
    _log.info("running; press Ctrl-C to stop")
    stopping.wait()
    _log.info("stopping; a second Ctrl-C exits at once", extra={"within_seconds": bound})
    # The stop runs on its own thread so this one stays free to take a second signal.
    stopper = threading.Thread(target=application.stop, kwargs={"within": bound}, daemon=True)
    stopper.start()
    stopper.join(bound)
    if stopper.is_alive():
        _log.error("not stopped within SHUTDOWN_SECONDS: exiting now")
        _exit(EXIT_FORCED)
    _exit(0)


def _exit(status: int) -> NoReturn:
    # Not sys.exit: interpreter shutdown would wait for pool threads stuck in a slow call.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(status)
