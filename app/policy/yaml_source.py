"""YAML text → plain data, remembering where in the file every key and value was written.

``yaml.safe_load`` forgets positions and silently keeps the last of two equal keys; in a security
policy a duplicated ``approvers:`` must be an error. So the file is composed into nodes (which
carry their marks) and converted here, recording the line and column of each data path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.policy.problems import PolicyProblem
from domain.policy_checks import PolicyPath

# libyaml's composer is several times faster than the pure-Python one; both give the same nodes.
_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_AS_WRITTEN: Final = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"})
_COLLECTION_TAGS: Final = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})

MAX_VALUES: Final = 1_000_000
"""Aliases can make a small file expand to billions of values; stop long before that."""


class Position(NamedTuple):
    """1-based, as editors count."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Where each data path was written: its value, and for mapping entries also its key."""

    values: dict[PolicyPath, Position] = field(default_factory=dict)
    keys: dict[PolicyPath, Position] = field(default_factory=dict)

    def locate(self, path: PolicyPath, *, key: bool = False) -> Position:
        """The position of ``path``, else of its nearest written ancestor (a missing key is
        reported at the mapping that lacks it)."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """``data`` is ``None`` when the text is not YAML (then ``problems`` says where) or empty."""

    data: Any
    source_map: SourceMap
    problems: tuple[PolicyProblem, ...]


def parse_yaml(text: str, *, max_values: int = MAX_VALUES) -> ParsedYaml:
    """Parse one YAML document into plain data, its source map and any structural problems."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        return ParsedYaml(None, SourceMap(), (_syntax_problem(exc, text),))
    except yaml.YAMLError as exc:
        return ParsedYaml(None, SourceMap(), (_reader_problem(exc, text),))
    except RecursionError:
        return ParsedYaml(None, SourceMap(), (_problem(Position(1, 1), "nesting is too deep"),))
    if root is None:
        return ParsedYaml(None, SourceMap(), ())
    converter = _Converter(max_values=max_values)
    try:
        data = converter.convert(root, ())
    except _TooLarge:
        too_large = _problem(
            _position(root),
            f"the file expands to more than {max_values:,} values",
            hint="aliases (*name) nested in aliases multiply; write the values out",
        )
        return ParsedYaml(None, SourceMap(), (too_large,))
    return ParsedYaml(data, converter.source_map, tuple(converter.problems))


class _TooLarge(Exception):
    pass


class _Converter:
    def __init__(self, *, max_values: int) -> None:
        self.max_values = max_values
        self.source_map = SourceMap()
        self.problems: list[PolicyProblem] = []
        self._constructor = SafeConstructor()
        self._open: set[int] = set()
        self._count = 0

    def convert(self, node: Node, path: PolicyPath) -> Any:
        self._count += 1
        if self._count > self.max_values:
            raise _TooLarge
        self.source_map.values[path] = _position(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._report(node, path, "an alias refers to a value that contains it")
            return None
        if not isinstance(node, MappingNode | SequenceNode):  # pragma: no cover - no other kind
            return None
        if node.tag not in _COLLECTION_TAGS:
            self._report(node, path, f"unsupported tag {_tag(node)}", hint="remove the tag")
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: ScalarNode, path: PolicyPath) -> Any:
        # Most scalars are text, which needs no constructor; and no policy field is a date, so
        # "2024-01-01" as a description stays the text written.
        if node.tag in _AS_WRITTEN:
            return node.value
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            self._report(node, path, f"unsupported tag {_tag(node)}", hint="remove the tag")
            return node.value

    def _mapping(self, node: MappingNode, path: PolicyPath) -> dict[Any, Any]:
        explicit, merged = self._pairs(node, path)
        result: dict[Any, Any] = {}
        written: dict[Any, Position] = {}
        for key_node, value_node in explicit:
            key = self._key(key_node, path)
            if key is _BAD_KEY:
                continue
            if key in written:
                first = written[key]
                self.problems.append(
                    _problem(
                        _position(key_node),
                        f"duplicate key {key!r}",
                        hint=f"the first {key!r} is on line {first.line}; keep one",
                        path=(*path, key),
                        code="duplicate-key",
                    )
                )
                continue
            written[key] = _position(key_node)
            result[key] = self._entry(key_node, value_node, (*path, key))
        # YAML merge keys (<<: *defaults): written keys win, then earlier merges over later ones.
        for key_node, value_node in merged:
            key = self._key(key_node, path)
            if key is not _BAD_KEY and key not in result:
                result[key] = self._entry(key_node, value_node, (*path, key))
        return result

    def _entry(self, key_node: Node, value_node: Node, path: PolicyPath) -> Any:
        self.source_map.keys[path] = _position(key_node)
        return self.convert(value_node, path)

    def _pairs(self, node: MappingNode, path: PolicyPath) -> tuple[list[_Pair], list[_Pair]]:
        explicit: list[_Pair] = []
        merged: list[_Pair] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                explicit.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode) or id(source) in self._open:
                    self._report(source, path, "<< must merge a mapping (or a list of them)")
                    continue
                self._open.add(id(source))
                inner_explicit, inner_merged = self._pairs(source, path)
                self._open.discard(id(source))
                merged += inner_explicit + inner_merged
        return explicit, merged

    def _key(self, node: Node, path: PolicyPath) -> Any:
        if not isinstance(node, ScalarNode):
            self._report(node, path, "a key must be a plain value, not a list or a mapping")
            return _BAD_KEY
        return self._scalar(node, path)

    def _report(self, node: Node, path: PolicyPath, message: str, *, hint: str = "") -> None:
        self.problems.append(
            _problem(_position(node), message, hint=hint, path=path, code="yaml-structure")
        )


_Pair = tuple[Node, Node]
_BAD_KEY: Final = object()


def _tag(node: Node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!")


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _problem(
    position: Position,
    message: str,
    *,
    hint: str = "",
    path: PolicyPath = (),
    code: str = "yaml-syntax",
) -> PolicyProblem:
    return PolicyProblem(
        path=path,
        line=position.line,
        column=position.column,
        message=message,
        hint=hint,
        code=code,
    )


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> PolicyProblem:
    # Only the parser's own words: str(exc) quotes the offending line, which may hold a secret.
    mark = exc.problem_mark or exc.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
    problem = exc.problem or "cannot be parsed"
    context, context_mark = exc.context or "", exc.context_mark
    hint = ""
    if mark is not None and _character_at(text, mark.line, mark.column) == "\t":
        hint = "YAML indents with spaces, never tabs"
    elif context.startswith("while ") and context_mark is not None:
        hint = (
            f"{context} that starts at line {context_mark.line + 1}, "
            f"column {context_mark.column + 1}; check indentation and quoting"
        )
    elif context:
        problem = f"{context}, {problem}"
    return _problem(position, f"invalid YAML: {problem}", hint=hint)


def _character_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column : column + 1] if line < len(lines) else ""


def _reader_problem(exc: yaml.YAMLError, text: str) -> PolicyProblem:
    offset = getattr(exc, "position", None)
    position = Position(1, 1)
    if isinstance(offset, int) and 0 <= offset <= len(text):
        before = text[:offset]
        position = Position(before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)
    reason = getattr(exc, "reason", None) or "the text cannot be read"
    return _problem(position, f"invalid YAML: {reason}")
