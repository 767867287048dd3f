"""Each integration's ``connection``, checked against the model of its type.

The policy model keeps ``connection`` as a plain mapping (its shape depends on ``type``), so this
runs on the data as written, for every integration whose type is known, even when other parts of
the file are wrong. A connection holds secrets: no message here ever quotes a value.

Every ``${`` in a connection's text must open a ``${NAME}`` reference: anything else would reach
the server as written (``${PG-HOST}`` as a host name), so it is an error whether or not the
environment is looked at (``check --offline`` reports it too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Final

from app.integrations.signing import is_plain_http
from app.policy.validation import Issue, label_of, validated
from domain.connections import CONNECTION_MODELS, ENV_REFERENCE, TYPE_ALIASES
from domain.policy_checks import PolicyPath


def connection_issues(data: Any) -> Iterator[Issue]:
    """Issues inside ``integrations[*].connection``, with paths from the top of the file."""
    integrations = data.get("integrations") if isinstance(data, dict) else None
    if not isinstance(integrations, list):
        return
    for index, integration in enumerate(integrations):
        if not isinstance(integration, dict):
            continue
        model = CONNECTION_MODELS.get(_canonical(integration.get("type")))
        connection = integration.get("connection")
        if model is None or not isinstance(connection, dict):
            continue  # the policy model reports a bad type or a connection that is no mapping
        prefix: PolicyPath = ("integrations", index, "connection")
        name = integration.get("name")
        _, issues = validated(model, connection, quote_values=False)
        for issue in issues:
            yield replace(
                issue,
                path=(*prefix, *issue.path),
                hint=issue.hint or _secret_hint(issue, name),
            )
        reported = {issue.path for issue in issues}
        for where, text in _strings(connection, ()):
            # A secret written wrongly is already reported by its model, with a better hint.
            if where not in reported and _malformed_reference(text):
                yield _reference_issue((*prefix, *where))


def insecure_webhook_issues(data: Any, *, allowed: bool | None) -> Iterator[Issue]:
    """A webhook integration's plain ``http://`` URL: an error unless ``ALLOW_INSECURE_WEBHOOKS``
    allows it, a warning when that is not known (``check --offline`` reads no environment).

    Over plain HTTP a grant's body (account names, what they may reach) and the answer (the
    access details given to the requester) travel in clear, and a captured signed call can be
    replayed within the allowed clock skew (README, "Verifying webhook calls")."""
    if allowed:
        return
    integrations = data.get("integrations") if isinstance(data, dict) else None
    for index, integration in enumerate(integrations if isinstance(integrations, list) else []):
        if not isinstance(integration, dict) or _canonical(integration.get("type")) != "webhook":
            continue
        connection = integration.get("connection")
        url = connection.get("url") if isinstance(connection, dict) else None
        if isinstance(url, str) and is_plain_http(url):
            yield Issue(
                path=("integrations", index, "connection", "url"),
                code="insecure-webhook",
                # The URL is not quoted: it may carry a token.
                message="a webhook integration's url must be https://, not plain http://",
                hint="ALLOW_INSECURE_WEBHOOKS=true allows http:// for local testing only"
                + ("" if allowed is False else "; the environment was not read"),
                severity="error" if allowed is False else "warning",
            )


_OPENING: Final = "${"


def _malformed_reference(text: str) -> bool:
    start = text.find(_OPENING)
    while start != -1:
        if ENV_REFERENCE.match(text, start) is None:
            return True
        start = text.find(_OPENING, start + len(_OPENING))
    return False


def _reference_issue(path: PolicyPath) -> Issue:
    return Issue(
        path=path,
        code="bad-env-reference",
        message=f"{label_of(path)}: '${{' does not open a valid ${{NAME}} reference",
        hint="write ${NAME}: letters, digits and '_', not starting with a digit, closed by '}'",
    )


def _strings(value: Any, path: PolicyPath) -> Iterator[tuple[PolicyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _canonical(value: Any) -> str:
    # The same reading as IntegrationSpec's validator, so aliases such as mariadb work here too.
    if not isinstance(value, str):
        return ""
    return TYPE_ALIASES.get(value.lower(), value.lower())


def _secret_hint(issue: Issue, integration_name: Any) -> str:
    if "${ENV_VAR}" not in issue.message or not issue.path:
        return ""
    stem = f"{integration_name}_{issue.path[-1]}" if isinstance(integration_name, str) else ""
    variable = re.sub(r"[^A-Za-z0-9]+", "_", stem or str(issue.path[-1])).strip("_").upper()
    return f'write {issue.path[-1]}: "${{{variable}}}" and set {variable} in the environment'
