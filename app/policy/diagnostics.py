"""``python -m app check --format json``: the problems of a policy file as one JSON document.

The shape is the contract CI jobs and editors read; it is written down in
``docs/schemas/check-diagnostics.schema.json`` (a test validates this output against it), and
README's "Policy CI" turns it into GitHub annotations. Change both together, and bump
:data:`SCHEMA_VERSION` when a field changes meaning or goes away.
"""

from __future__ import annotations

import json
from typing import Final, Literal, TypedDict

from app.policy.loader import LoadResult
from app.policy.problems import PolicyProblem
from domain.policy_checks import Severity, format_path

SCHEMA_VERSION: Final = 1

Mode = Literal["offline", "online"]


class Diagnostic(TypedDict):
    file: str
    line: int | None
    column: int | None
    severity: Severity
    message: str
    hint: str | None
    code: str | None
    path: str | None


class Document(TypedDict):
    schema_version: int
    file: str
    mode: Mode
    valid: bool
    errors: int
    warnings: int
    diagnostics: list[Diagnostic]


def loaded_document(*, source: str, result: LoadResult, mode: Mode) -> Document:
    """Every problem the loader found, in file order; ``valid`` as the exit code says."""
    return Document(
        schema_version=SCHEMA_VERSION,
        file=source,
        mode=mode,
        valid=result.policy is not None,
        errors=len(result.errors),
        warnings=len(result.warnings),
        diagnostics=[_diagnostic(source, problem) for problem in result.problems],
    )


def unreadable_document(*, source: str, mode: Mode, message: str, hint: str | None) -> Document:
    """A file that could not be read: one error about the whole file (no line, no column)."""
    problem = Diagnostic(
        file=source,
        line=None,
        column=None,
        severity="error",
        message=message,
        hint=hint,
        code="unreadable",
        path=None,
    )
    return Document(
        schema_version=SCHEMA_VERSION,
        file=source,
        mode=mode,
        valid=False,
        errors=1,
        warnings=0,
        diagnostics=[problem],
    )


def dumps(document: Document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _diagnostic(source: str, problem: PolicyProblem) -> Diagnostic:
    return Diagnostic(
        file=source,
        line=problem.line,
        column=problem.column,
        severity=problem.severity,
        message=problem.message,
        hint=problem.hint or None,
        code=problem.code or None,
        path=format_path(problem.path) or None,
    )
