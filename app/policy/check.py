"""``python -m app check``: every problem of a policy file, one line each, as compilers do.

With ``--offline`` the file is checked without its secrets or servers, as a CI job does: the
environment is not read, so a ``${VAR}`` counts as set, and nothing connects; everything else
(YAML, keys and types, ``${VAR}`` syntax, references, limits) is checked as without it, durations
against the default ``MAX_ACCESS_DURATION``. With
``--format json`` the same problems are one JSON document (:mod:`app.policy.diagnostics`).

With ``--connect``, a valid policy's integrations are then built (their ``${VAR}`` secrets taken
from the environment) and each admin login is checked with its preflight: ``NAME: ok``, or one
``NAME: missing: <sentence>`` line per thing it lacks, or ``NAME: error: <why>``. No secret is
ever printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, TextIO

from pydantic import ValidationError

from app.policy.diagnostics import Mode, dumps, loaded_document, unreadable_document
from app.policy.loader import LoadResult, load_policy
from app.settings import DEFAULT_MAX_ACCESS_DURATION, SettingsError, max_access_duration_from_env
from domain.connections import CONNECTION_MODELS, ENV_REFERENCE
from domain.policy import IntegrationSpec, Policy

if TYPE_CHECKING:
    from app.integrations.base import Integration
    from app.integrations.health import IntegrationStatus

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_NOT_READY: Final = 1
"""``--connect``: the policy is valid but an admin login lacks something or cannot connect."""
EXIT_UNREADABLE: Final = 2
"""Also for a usage error (the command line's own parser exits 2 too)."""

Format = Literal["text", "json"]

Builder = Callable[[IntegrationSpec, Mapping[str, str]], "Integration"]
"""Builds the integration of a policy entry, its ``${VAR}`` references resolved from ``env``."""


def build_from_spec(spec: IntegrationSpec, env: Mapping[str, str]) -> Integration:
    from app.integrations.registry import build_integration

    return build_integration(
        name=spec.name,
        type_name=spec.type,
        connection=spec.connection_model(env),
        permissions=spec.permissions,
    )


def run_check(
    *,
    path: Path,
    env: Mapping[str, str],
    out: TextIO,
    connect: bool = False,
    offline: bool = False,
    output: Format = "text",
    build: Builder = build_from_spec,
) -> int:
    """Print the problems of the policy at ``path``; 0 when it is valid (warnings allowed),
    1 when it has errors, 2 when it cannot be read. With ``connect``, a valid policy's admin
    logins are checked too: 0 only when every one passes, 1 otherwise. With ``offline``, ``env``
    is not read at all. ``output="json"`` prints one JSON document instead of lines."""
    if offline and connect:
        raise ValueError("an offline check cannot connect")
    if output == "json" and connect:
        raise ValueError("connection checks are printed as text only")
    source = str(path)
    mode: Mode = "offline" if offline else "online"
    try:
        # Offline, the environment is not read: the cap is MAX_ACCESS_DURATION's default.
        cap = DEFAULT_MAX_ACCESS_DURATION if offline else max_access_duration_from_env(env)
    except SettingsError as exc:
        out.write(f"{source}: error: {exc}\n")
        return EXIT_UNREADABLE
    try:
        result = load_policy(path=path, env=None if offline else env, max_duration=cap)
    except (OSError, UnicodeDecodeError) as exc:
        message, hint = _unreadable(exc)
        if output == "json":
            document = unreadable_document(source=source, mode=mode, message=message, hint=hint)
            out.write(dumps(document))
        else:
            out.write(f"{source}: error: {message}" + (f" ({hint})" if hint else "") + "\n")
        return EXIT_UNREADABLE
    if output == "json":
        out.write(dumps(loaded_document(source=source, result=result, mode=mode)))
    else:
        for problem in result.problems:
            out.write(problem.format(source=source) + "\n")
        out.write(summary(source=source, result=result, offline=offline) + "\n")
    if result.policy is None:
        return EXIT_INVALID
    if connect:
        return check_connections(policy=result.policy, env=env, out=out, build=build)
    return EXIT_VALID


def _unreadable(exc: OSError | UnicodeDecodeError) -> tuple[str, str | None]:
    """What is wrong with the file, and what to do about it when that is not obvious."""
    if isinstance(exc, FileNotFoundError):
        return "no such file", "pass a policy file or set POLICY_FILE"
    if isinstance(exc, UnicodeDecodeError):
        return "not a UTF-8 text file", None
    return f"cannot read the file: {exc.strerror or exc}", None


def check_connections(
    *, policy: Policy, env: Mapping[str, str], out: TextIO, build: Builder = build_from_spec
) -> int:
    """Build every integration and run its preflight (concurrently); one line per result."""
    from app.integrations.health import check_integration, run_bounded
    from domain.clock import SystemClock

    clock = SystemClock()
    lines: dict[str, list[str]] = {}
    built: list[Integration] = []
    for spec in policy.integrations:
        try:
            built.append(build(spec, env))
        except KeyError as missing:
            lines[spec.name] = [f"error: environment variable {missing.args[0]} is not set"]
        except ValidationError as invalid:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in invalid.errors())
            lines[spec.name] = [
                f"error: its connection is invalid once the environment's values are in ({fields})"
            ]
        except ValueError as wrong:
            lines[spec.name] = [f"error: {wrong}"]
    results: dict[str, IntegrationStatus] = {}

    def check(integration: Integration) -> None:
        results[integration.name] = check_integration(
            integration, clock=clock, log_unexpected=False
        )

    run_bounded(built, check)
    for name, status in results.items():
        if status.healthy:
            lines[name] = ["ok"]
        elif status.error is not None:
            lines[name] = [f"error: {status.error}"]
        else:
            lines[name] = [f"missing: {sentence}" for sentence in status.missing]
        if status.safeguard:
            lines[name].append(f"note: {status.safeguard}")
    secrets = _secret_values(policy, env)
    for spec in policy.integrations:
        for line in lines.get(spec.name, ["error: not checked"]):
            out.write(_masked(f"{spec.name}: {line}", secrets) + "\n")
    ready = all(
        name in results and results[name].healthy for name in (s.name for s in policy.integrations)
    )
    return EXIT_VALID if ready else EXIT_NOT_READY


def _secret_values(policy: Policy, env: Mapping[str, str]) -> list[str]:
    """The values of every ``${VAR}`` a secret field refers to (passwords, signing keys)."""
    values: set[str] = set()
    for spec in policy.integrations:
        fields = CONNECTION_MODELS[spec.type].model_fields
        for key, written in spec.connection.items():
            field = fields.get(key)
            if field is None or field.repr or not isinstance(written, str):
                continue
            values.update(env.get(m.group(1), "") for m in ENV_REFERENCE.finditer(written))
    return sorted((v for v in values if v), key=len, reverse=True)


def _masked(line: str, secrets: list[str]) -> str:
    # A last line of defence: integration messages are written not to hold secrets.
    for secret in secrets:
        line = line.replace(secret, "***")
    return line


def summary(*, source: str, result: LoadResult, offline: bool = False) -> str:
    """One line: what the file holds when valid, how many problems otherwise."""
    warnings = _count(len(result.warnings), "warning")
    if result.policy is None:
        counted = _count(len(result.errors), "error")
        return f"{source}: {counted}, {warnings}; the policy was not loaded"
    policy = result.policy
    held = ", ".join(
        (
            _count(len(policy.integrations), "integration"),
            _count(len(policy.bundles), "bundle"),
            _count(len(policy.access_flows), "access flow"),
        )
    )
    return f"{source}: valid{' offline' if offline else ''} ({held}; {warnings})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
