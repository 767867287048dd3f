"""Policy file → validated :class:`~domain.policy.Policy`, or every problem with its position.

Five passes, each reporting all it finds: YAML structure (syntax, duplicate keys), the models
(unknown keys, bad values), each integration's connection against its type (and its ``${VAR}``
syntax), the sizes and the duration cap of :mod:`app.policy.limits`, and the semantic checks of
:mod:`domain.policy_checks` (run on the valid part when some of the file is not). None of them
needs the environment's values except the last one's "is every ``${VAR}`` set", skipped when
``env`` is ``None`` (``check --offline``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from app.policy.connection_checks import connection_issues, insecure_webhook_issues
from app.policy.limits import duration_cap_problems, limit_issues
from app.policy.problems import PolicyError, PolicyProblem
from app.policy.salvage import Salvage, salvage
from app.policy.validation import Issue
from app.policy.yaml_source import SourceMap, parse_yaml
from app.settings import DEFAULT_MAX_ACCESS_DURATION, insecure_webhooks_allowed
from domain.policy import Policy
from domain.policy_checks import Problem, check_policy


@dataclass(frozen=True, slots=True)
class LoadResult:
    """``policy`` is set when the file has no errors (warnings allowed)."""

    policy: Policy | None
    problems: tuple[PolicyProblem, ...]

    @property
    def errors(self) -> tuple[PolicyProblem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[PolicyProblem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


def load_policy(
    *,
    path: Path,
    env: Mapping[str, str] | None,
    max_duration: timedelta = DEFAULT_MAX_ACCESS_DURATION,
) -> LoadResult:
    """Read and check the policy file at ``path``; ``env`` resolves ``${VAR}`` references
    (``None`` skips that check); ``max_duration`` is the ``MAX_ACCESS_DURATION`` setting.
    Raises ``OSError`` when the file cannot be read."""
    return parse_policy(text=path.read_text(encoding="utf-8"), env=env, max_duration=max_duration)


def load_policy_or_raise(
    *,
    path: Path,
    env: Mapping[str, str] | None,
    max_duration: timedelta = DEFAULT_MAX_ACCESS_DURATION,
) -> Policy:
    """For start-up: the policy, or :class:`PolicyError` listing every problem."""
    result = load_policy(path=path, env=env, max_duration=max_duration)
    if result.policy is None:
        raise PolicyError(source=str(path), problems=result.problems)
    return result.policy


def parse_policy(
    *,
    text: str,
    env: Mapping[str, str] | None,
    max_duration: timedelta = DEFAULT_MAX_ACCESS_DURATION,
) -> LoadResult:
    """Check policy ``text`` (a YAML document), e.g. an upload that is not a file yet."""
    parsed = parse_yaml(text)
    problems = list(parsed.problems)
    if parsed.data is None:
        if not problems:
            problems.append(_empty_file())
        return LoadResult(policy=None, problems=tuple(problems))
    source_map = parsed.source_map
    salvaged = salvage(parsed.data)
    problems += _locate_issues(salvaged.issues, source_map)
    problems += _locate_issues(connection_issues(parsed.data), source_map)
    allowed = None if env is None else insecure_webhooks_allowed(env)
    problems += _locate_issues(insecure_webhook_issues(parsed.data, allowed=allowed), source_map)
    problems += _locate_issues(limit_issues(parsed.data), source_map)
    if salvaged.policy is not None:
        found = check_policy(policy=salvaged.policy, env=env)
        found += duration_cap_problems(salvaged.policy, cap=max_duration)
        problems += _locate_checks(found, salvaged, source_map)
    problems.sort(key=PolicyProblem.sort_key)
    failed = any(p.is_error for p in problems)
    return LoadResult(policy=None if failed else salvaged.policy, problems=tuple(problems))


def _locate_issues(issues: Iterable[Issue], source_map: SourceMap) -> list[PolicyProblem]:
    located = []
    for issue in issues:
        line, column = source_map.locate(issue.path, key=issue.at_key or _is_unknown_key(issue))
        located.append(
            PolicyProblem(
                path=issue.path,
                line=line,
                column=column,
                message=issue.message,
                hint=issue.hint,
                severity=issue.severity,
                code=issue.code,
            )
        )
    return located


def _is_unknown_key(issue: Issue) -> bool:
    return issue.code == "extra_forbidden"


def _locate_checks(
    problems: Iterable[Problem], salvaged: Salvage, source_map: SourceMap
) -> list[PolicyProblem]:
    located = []
    for problem in problems:
        path = salvaged.to_original(problem.path)
        if not salvaged.keeps(replace(problem, path=path)):
            continue
        line, column = source_map.locate(path)
        hint = problem.hint
        if problem.related is not None:
            related = source_map.locate(salvaged.to_original(problem.related))
            hint = f"{hint}; see line {related.line}" if hint else f"see line {related.line}"
        located.append(
            PolicyProblem(
                path=path,
                line=line,
                column=column,
                message=problem.message,
                hint=hint,
                severity=problem.severity,
                code=problem.code,
            )
        )
    return located


def _empty_file() -> PolicyProblem:
    return PolicyProblem(
        path=(),
        line=1,
        column=1,
        message="the policy is empty",
        hint="start from policy.example.yml",
        code="empty",
    )
