"""``python -m app check``: every problem of a policy file, one line each, as compilers do."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final, TextIO

from app.policy.loader import LoadResult, load_policy

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_UNREADABLE: Final = 2


def run_check(*, path: Path, env: Mapping[str, str], out: TextIO) -> int:
    """Print the problems of the policy at ``path``; 0 when it is valid (warnings allowed),
    1 when it has errors, 2 when it cannot be read."""
    source = str(path)
    try:
        result = load_policy(path=path, env=env)
    except FileNotFoundError:
        out.write(f"{source}: error: no such file (pass a policy file or set POLICY_FILE)\n")
        return EXIT_UNREADABLE
    except UnicodeDecodeError:
        out.write(f"{source}: error: not a UTF-8 text file\n")
        return EXIT_UNREADABLE
    except OSError as exc:
        out.write(f"{source}: error: cannot read the file: {exc.strerror or exc}\n")
        return EXIT_UNREADABLE
    for problem in result.problems:
        out.write(problem.format(source=source) + "\n")
    out.write(summary(source=source, result=result) + "\n")
    return EXIT_VALID if result.policy is not None else EXIT_INVALID


def summary(*, source: str, result: LoadResult) -> str:
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
    return f"{source}: valid ({held}; {warnings})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
