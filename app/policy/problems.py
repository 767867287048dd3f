"""What the loader reports: a problem with its place in the file, and the error start-up raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.policy_checks import PolicyPath, Severity


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem, at a 1-based line and column of the policy file."""

    path: PolicyPath
    line: int
    column: int
    message: str
    hint: str = ""
    severity: Severity = "error"
    code: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[int, int, int, str]:
        return (self.line, self.column, 0 if self.is_error else 1, self.message)

    def format(self, *, source: str) -> str:
        """``FILE:LINE:COL: error: message (hint: ...)``, the shape editors and CI logs link."""
        text = f"{source}:{self.line}:{self.column}: {self.severity}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class PolicyError(Exception):
    """The policy file cannot be used; carries every problem found, not only the first."""

    def __init__(self, *, source: str, problems: Sequence[PolicyProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        errors = sum(1 for p in self.problems if p.is_error)
        lines = [f"{source}: the policy has {errors} error{'s' if errors != 1 else ''}"]
        lines += [p.format(source=source) for p in self.problems]
        super().__init__("\n".join(lines))
