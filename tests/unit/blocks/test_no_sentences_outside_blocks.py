"""Every sentence a person reads in Slack lives in blocks/ (docs/architecture.md, "Layers"): the
services and listeners under app/ call a builder there instead of writing the words themselves.

The check reads app/ with ``ast`` and looks for string literals that read like words shown to
people. It does not look at docstrings, logging calls, audit-only details (``detail=``,
``what=``), messages of Python's own exceptions (a programming error, never shown), or the parts
whose words go to admins' logs and terminals rather than to Slack.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[3]
APP: Final = ROOT / "app"

# Their words go to admins' terminals and logs, not to Slack.
NOT_SLACK: Final = (
    "app/policy/",  # policy file checks, export and import: command-line output
    "app/integrations/",  # errors written for the admin's log; shown through blocks/ builders
    "app/cli.py",
    "app/settings.py",
    "app/reports/cli.py",  # `python -m app report`: command-line output
    "app/audit/verify.py",  # `python -m app audit verify`: command-line output
    "app/operations/",  # Prometheus HELP texts and probe answers, read by monitoring tools
)

# Strings that look like a sentence but must stay where they are: (path, text) → why.
ALLOWED: Final[dict[tuple[str, str], str]] = {
    ("app/webhooks/delivery.py", "no answer: {}"): "a request webhook's delivery error, for "
    "the admin's log and its cursor row; never shown in Slack",
    ("app/webhooks/sending.py", "environment variable {} is not set"): "why a request webhook "
    "cannot send, for the admin's log and its cursor row; never shown in Slack",
    ("app/core/oncall/sources.py", "http {}, token refused"): "why an on-call service could "
    "not be asked, for the admin's log and the audit event; never shown in Slack",
}

_LOGGING_METHODS: Final = {"debug", "info", "warning", "error", "exception", "critical", "log"}
_AUDIT_ONLY_KEYWORDS: Final = {"detail", "what", "extra"}
_BUILTIN_ERRORS: Final = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
_WORDS: Final = re.compile(r"[A-Za-z]+ [A-Za-z]+")


def reads_like_a_sentence(text: str, *, formatted: bool) -> bool:
    """A capitalised phrase ending like a sentence, or a long one; in an f-string, a full stop or
    two words side by side are enough (``{flow} offers {bundle} already.`` and a clause such as
    ``the access flow {name} was deactivated`` are read too)."""
    stripped = text.strip()
    if " " not in stripped:
        return False
    first = next((c for c in stripped if c.isalpha()), "")
    if first.isupper() and stripped[-1] in ".?!:":
        return True
    if first.isupper() and len(stripped.split()) >= 4:
        return True
    if formatted and stripped[-1] in ".?!":
        return True
    return formatted and _WORDS.search(stripped) is not None


def _is_logging_call(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and node.func.attr in _LOGGING_METHODS


def _builtin_raise(node: ast.Raise) -> bool:
    exc = node.exc
    return (
        isinstance(exc, ast.Call)
        and isinstance(exc.func, ast.Name)
        and exc.func.id in _BUILTIN_ERRORS
    )


def _ignored_nodes(tree: ast.AST) -> set[int]:
    """The nodes whose strings nobody reads in Slack."""
    ignored: set[int] = set()

    def ignore(node: ast.AST) -> None:
        ignored.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            ignore(node)  # a docstring, of a module, class, function or attribute
        elif isinstance(node, ast.Call):
            if _is_logging_call(node):
                ignore(node)
            for keyword in node.keywords:
                if keyword.arg in _AUDIT_ONLY_KEYWORDS:
                    ignore(keyword.value)
        elif isinstance(node, ast.Raise) and _builtin_raise(node):
            ignore(node)
    return ignored


def sentences_in(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every literal in ``source`` that reads like words shown to people."""
    tree = ast.parse(source)
    ignored = _ignored_nodes(tree)
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if id(node) in ignored:
            continue
        if isinstance(node, ast.JoinedStr):
            ignored.update(id(v) for v in node.values)
            text = "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                for v in node.values
            )
            if reads_like_a_sentence(text, formatted=True):
                found.append((node.lineno, node.col_offset, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and reads_like_a_sentence(node.value, formatted=False)
        ):
            found.append((node.lineno, node.col_offset, node.value))
    for line, _, text in sorted(found):
        yield line, text


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(NOT_SLACK):
            yield relative, path


def test_no_service_or_listener_writes_a_sentence_itself() -> None:
    found = [
        f"{relative}:{line}: {text!r}"
        for relative, path in _modules()
        for line, text in sentences_in(path.read_text(encoding="utf-8"))
        if (relative, text) not in ALLOWED
    ]
    assert not found, "move these into a builder in blocks/:\n" + "\n".join(found)


def test_the_check_finds_sentences_and_fragments_but_not_logs_or_docstrings() -> None:
    source = '''
"""A module docstring, which is a sentence."""
import logging
_log = logging.getLogger(__name__)


def f(request_id: str, flow: str) -> object:
    """A function docstring."""
    _log.warning("Something went wrong here.", extra={"request": request_id})
    if not flow:
        raise ValueError(f"Unknown flow {flow}.")
    refuse(reason="You cannot decide on your own request.", detail=f"unknown request {flow}")
    notice = f"the access flow {flow} was deactivated"
    return f"There is no request {request_id} to revoke.", "approve", f"{flow}:{request_id}"
'''
    assert [text for _, text in sentences_in(source)] == [
        "You cannot decide on your own request.",
        "the access flow {} was deactivated",
        "There is no request {} to revoke.",
    ]


def test_every_allowed_sentence_is_still_there() -> None:
    """An allowlist entry whose text moved or changed is stale: remove it."""
    present = {
        (relative, text)
        for relative, path in _modules()
        for _, text in sentences_in(path.read_text(encoding="utf-8"))
    }
    assert set(ALLOWED) <= present
