"""The valid part of an invalid policy, so the semantic checks can still run on it.

An admin should see every mistake in one run, including a flow naming an unknown bundle in a file
that also has a typo elsewhere. So what pydantic rejects is left out (an unknown key, a bad value;
a list item whose required key is bad) or, for a flow's required parts, replaced by a neutral
stand-in, until the rest validates. Paths in problems about the rest are mapped back to the file,
and problems that may only exist because of what was left out are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from app.policy.validation import Issue, validated
from domain.policy import Policy
from domain.policy_checks import DependencyKind, PolicyPath, Problem

_MAX_ROUNDS: Final = 100

_FLOW_STAND_INS: Final[Mapping[str, Any]] = {
    "grantees": {},
    "approvers": "automatic",
    "duration": {"default": "1h", "max": "1h"},
}
"""Values that keep a flow whose grantees, approvers or duration are wrong, so its bundles and
objects are still checked. None of them causes a semantic problem of its own that survives."""

_IDENTITY_KEYS: Final = frozenset({"name", "type", "permissions"})
"""Keys of an integration or bundle that references to it depend on."""

_NAMED_SECTIONS: Final[Mapping[str, DependencyKind]] = {
    "integrations": "integration",
    "bundles": "bundle",
}


@dataclass(frozen=True, slots=True)
class Salvage:
    """``policy`` validated from ``original`` with ``changed`` paths left out or replaced;
    ``issues`` are what made the original invalid."""

    original: Any
    policy: Policy | None
    issues: tuple[Issue, ...] = ()
    changed: frozenset[PolicyPath] = field(default_factory=frozenset)

    def to_original(self, path: PolicyPath) -> PolicyPath:
        """A path into the salvaged data → the same place in the file's data."""
        mapped: list[str | int] = []
        current = self.original
        for part in path:
            if isinstance(current, list) and isinstance(part, int):
                kept = [i for i in range(len(current)) if (*mapped, i) not in self.changed]
                part = kept[part] if part < len(kept) else part
            mapped.append(part)
            current = _child(current, part)
        return tuple(mapped)

    def keeps(self, problem: Problem) -> bool:
        """Whether ``problem`` (its path already mapped back) stands on its own: it is not about
        something that was changed, nor about a reference to something left out."""
        if any(changed[: len(problem.path)] == problem.path for changed in self.changed):
            return False
        return problem.depends_on is None or problem.depends_on not in self._left_out()

    def _left_out(self) -> set[tuple[DependencyKind, str]]:
        left_out: set[tuple[DependencyKind, str]] = set()
        for path in self.changed:
            if path[:2] == ("on_call", "providers") and len(path) > 2:
                # A provider with any bad part is left out whole; its references are not unknown.
                item = _at(self.original, path[:3])
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str):
                    left_out.add(("on-call-provider", name))
                continue
            if len(path) < 2 or not isinstance(path[1], int):
                continue
            kind = _NAMED_SECTIONS.get(str(path[0]))
            item = _at(self.original, path[:2])
            name = item.get("name") if isinstance(item, dict) else None
            if kind is not None and isinstance(name, str):
                if len(path) == 2 or path[2] in _IDENTITY_KEYS:
                    left_out.add((kind, name))
            elif path[0] == "access_flows":
                # A flow (or part of one) left out may have been what used a bundle.
                left_out.update(("bundle-use", text) for text in _strings(_at(self.original, path)))
        return left_out


def salvage(data: Any) -> Salvage:
    """Leave out or replace what does not validate, round by round, until the rest does."""
    policy, issues = validated(Policy, data)
    first = tuple(issues)
    if policy is not None or not isinstance(data, dict):
        return Salvage(original=data, policy=policy, issues=first)
    stand_ins: dict[PolicyPath, Any] = {}
    removed: set[PolicyPath] = set()
    for _ in range(_MAX_ROUNDS):
        current = Salvage(original=data, policy=None, changed=frozenset(removed))
        progress = False
        for issue in issues:
            target = current.to_original(_target(issue.path, issue.code))
            stand_in = _stand_in(target) if issue.code == "missing" else None
            if stand_in is not None and target not in stand_ins:
                stand_ins[target] = stand_in
            elif stand_in is None and target and target not in removed:
                removed.add(target)
            else:
                continue
            progress = True
        if not progress:
            break
        policy, issues = validated(Policy, _rebuild(data, (), removed=removed, stand_ins=stand_ins))
        if policy is not None:
            return Salvage(data, policy, first, frozenset(removed | stand_ins.keys()))
    return Salvage(original=data, policy=None, issues=first)


def _target(path: PolicyPath, code: str) -> PolicyPath:
    """What to change: the bad value itself; for a missing key, the flow part holding it (which
    gets a stand-in) or the list item lacking it."""
    if code != "missing":
        return path
    if _stand_in(path) is not None:
        return _flow_key(path)
    indexes = [i for i, part in enumerate(path) if isinstance(part, int)]
    return path[: indexes[-1] + 1] if indexes else ()


def _stand_in(path: PolicyPath) -> Any | None:
    if len(path) >= 3 and path[0] == "access_flows" and isinstance(path[1], int):
        return _FLOW_STAND_INS.get(str(path[2]))
    return None


def _flow_key(path: PolicyPath) -> PolicyPath:
    return path[:3]


def _rebuild(
    value: Any, path: PolicyPath, *, removed: set[PolicyPath], stand_ins: dict[PolicyPath, Any]
) -> Any:
    if path in stand_ins:
        return stand_ins[path]
    if isinstance(value, dict):
        kept = {k: v for k, v in value.items() if (*path, k) not in removed}
        for key in _FLOW_STAND_INS:
            if (*path, key) in stand_ins:
                kept.setdefault(key, None)  # a missing part gets its stand-in too
        return {
            k: _rebuild(v, (*path, k), removed=removed, stand_ins=stand_ins)
            for k, v in kept.items()
        }
    if isinstance(value, list):
        return [
            _rebuild(v, (*path, i), removed=removed, stand_ins=stand_ins)
            for i, v in enumerate(value)
            if (*path, i) not in removed
        ]
    return value


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, dict):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


def _at(value: Any, path: PolicyPath) -> Any:
    for part in path:
        value = _child(value, part)
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
