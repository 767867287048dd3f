"""``run_check``: what an admin sees when checking a policy file."""

from __future__ import annotations

import io
from pathlib import Path

from app.policy.check import EXIT_INVALID, EXIT_UNREADABLE, EXIT_VALID, run_check

FIXTURES = Path(__file__).parent / "fixtures"
MANY_MISTAKES = FIXTURES / "many_mistakes.yml"

EXPECTED_MISTAKES = [
    # a literal password
    "9:17: error: password: secrets must be written as ${ENV_VAR} references, never in the file"
    ' (hint: write password: "${PROD_POSTGRES_PASSWORD}" and set PROD_POSTGRES_PASSWORD'
    " in the environment)",
    # a ${VAR} the environment lacks
    "14:17: error: environment variable PROD_REDIS_PASSWORD is not set"
    " (hint: set PROD_REDIS_PASSWORD in the bot's environment)",
    # a duplicate name
    "15:11: error: duplicate integration name 'prod-redis'"
    " (hint: names must be unique; see line 10)",
    # an unknown integration in a bundle
    "22:23: error: unknown integration 'prod-pg'"
    " (hint: did you mean 'prod-postgres'? known integrations: prod-postgres, prod-redis)",
    # a permission the type does not offer
    "23:69: error: integration 'prod-redis' (redis) does not offer permission 'write'"
    " (hint: did you mean 'read_write'? known permissions: read_only, read_write, admin)",
    # an unknown bundle in a flow
    "27:30: error: unknown bundle 'prod-incidents'"
    " (hint: did you mean 'prod-incident'? known bundles: prod-incident)",
    # a default duration above the maximum
    "29:25: error: default duration 8h is above the maximum 1h"
    " (hint: lower `default` or raise `max`)",
    # an empty flow
    "30:5: error: access flow 'developers' offers nothing to request"
    " (hint: add `bundles:` or `objects:`)",
    # an unknown key
    "38:5: error: unknown key 'aproovers' (hint: did you mean 'approvers'?)",
    # a bad duration
    "39:34: error: max: '5 hours' is not a duration; write e.g. 30m, 1h, 2d or 1h30m",
    # a duplicate YAML key
    "41:5: error: duplicate key 'justification'"
    " (hint: the first 'justification' is on line 40; keep one)",
]


def check(path: Path, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_check(path=path, env=env or {}, out=out)
    return code, out.getvalue().splitlines()


def test_a_policy_with_many_mistakes_prints_every_one_at_its_line_then_a_summary() -> None:
    code, lines = check(MANY_MISTAKES)

    assert lines == [
        *(f"{MANY_MISTAKES}:{line}" for line in EXPECTED_MISTAKES),
        f"{MANY_MISTAKES}: 11 errors, 0 warnings; the policy was not loaded",
    ]
    assert code == EXIT_INVALID


def test_the_literal_password_is_reported_but_never_printed() -> None:
    _, lines = check(MANY_MISTAKES)

    assert "hunter2" not in "\n".join(lines)


def test_a_valid_policy_exits_0_with_a_summary_of_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}\n"
        "access_flows:\n"
        "  - name: f\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
        "    approvers: automatic\n"
        "    duration: {default: 1h, max: 1h}\n"
    )

    code, lines = check(path)

    assert lines == [f"{path}: valid (1 integration, 0 bundles, 1 access flow; 0 warnings)"]
    assert code == EXIT_VALID


def test_warnings_are_printed_but_do_not_fail_the_check(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}\n"
        "bundles:\n"
        "  - name: spare\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
    )

    code, lines = check(path)

    assert lines == [
        f"{path}:4:11: warning: bundle 'spare' is not used by any access flow"
        " (hint: add it to a flow's `bundles:` or remove it)",
        f"{path}: valid (1 integration, 1 bundle, 0 access flows; 1 warning)",
    ]
    assert code == EXIT_VALID


def test_bad_yaml_is_reported_at_its_position(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text("admins:\n  - U024BE7LH\n bundles: []\n")

    code, lines = check(path)

    assert lines[0].startswith(f"{path}:3:2: error: invalid YAML: ")
    assert lines[1] == f"{path}: 1 error, 0 warnings; the policy was not loaded"
    assert code == EXIT_INVALID


def test_a_missing_file_is_a_clear_message_and_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"

    code, lines = check(path)

    assert lines == [f"{path}: error: no such file (pass a policy file or set POLICY_FILE)"]
    assert code == EXIT_UNREADABLE


def test_a_file_that_is_not_utf8_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_bytes(b"admins: [\xff]\n")

    code, lines = check(path)

    assert lines == [f"{path}: error: not a UTF-8 text file"]
    assert code == EXIT_UNREADABLE


def test_break_glass_misuse_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}\n"
        "access_flows:\n"
        "  - name: long\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
        "    approvers: {users: [U0APPROVER]}\n"
        "    duration: {default: 1h, max: 8h}\n"
        "    break_glass: {max_duration: 5h}\n"
        "  - name: short\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
        "    approvers: {users: [U0APPROVER]}\n"
        "    duration: {default: 1h, max: 1h}\n"
        "    break_glass:\n"
        "      max_duration: 2h\n"
    )

    code, lines = check(path)

    assert lines == [
        f"{path}:9:33: error: break-glass max_duration 5h is above the ceiling of 4h for any"
        " break-glass access (hint: lower it to 4h or less; longer access needs approval)",
        f"{path}:16:21: error: break-glass max_duration 2h is above the flow's maximum 1h"
        " (hint: lower `break_glass.max_duration` or raise `duration.max`)",
        f"{path}: 2 errors, 0 warnings; the policy was not loaded",
    ]
    assert code == EXIT_INVALID


def test_a_break_glass_daily_limit_below_one_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}\n"
        "access_flows:\n"
        "  - name: f\n"
        "    grantees: {users: [U024BE7LH]}\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
        "    approvers: {users: [U0APPROVER]}\n"
        "    duration: {default: 1h, max: 1h}\n"
        "    break_glass:\n"
        "      max_duration: 1h\n"
        "      daily_limit: 0\n"
    )

    code, lines = check(path)

    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:11:20: error: daily_limit: ")
    assert "greater than or equal to 1" in lines[0]
    assert code == EXIT_INVALID
