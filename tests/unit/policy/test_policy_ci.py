"""Policy CI: ``check --offline`` without secrets or servers, ``--format json``, annotations."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from app.cli import main
from app.policy.check import EXIT_INVALID, EXIT_UNREADABLE, EXIT_VALID, run_check
from tests.unit.policy.test_policy_example import example_env

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "policy.example.yml"
FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "ci_broken.yml"
BAD_YAML = FIXTURES / "ci_bad_yaml.yml"
SCHEMA = json.loads((ROOT / "docs/schemas/check-diagnostics.schema.json").read_text())
ANNOTATIONS = ROOT / "docs/schemas/github-annotations.jq"

BROKEN_PROBLEMS = [
    # (line, column, code, message): a ${ that opens no reference, a bad type, a missing
    # bundle, an unknown integration, a duration above the flow's maximum
    (7, 13, "bad-env-reference", "host: '${' does not open a valid ${NAME} reference"),
    (
        8,
        13,
        "int_parsing",
        "port: input should be a valid integer, unable to parse string as an integer",
    ),
    (19, 26, "unknown-bundle", "unknown bundle 'prod-write'"),
    (21, 23, "unknown-integration", "unknown integration 'prod-pg'"),
    (23, 52, "choice-above-max", "duration choice 8h is above the maximum 4h"),
]


def example_variables() -> set[str]:
    """Every ``${VAR}`` the example's values refer to (its comments mention ``${ENV_VAR}``)."""
    return set(example_env())


def check(
    path: Path, *, offline: bool = True, output: str = "text", env: dict[str, str] | None = None
) -> tuple[int, str]:
    out = io.StringIO()
    code = run_check(
        path=path,
        env=env or {},
        out=out,
        offline=offline,
        output="json" if output == "json" else "text",
    )
    return code, out.getvalue()


def check_json(path: Path, **options: Any) -> tuple[int, dict[str, Any]]:
    code, text = check(path, output="json", **options)
    document = json.loads(text)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    return code, document


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- the example passes with none of its secrets ----------------------------------------------


def test_the_example_passes_offline_in_a_subprocess_whose_environment_lacks_its_variables(
    tmp_path: Path,
) -> None:
    variables = example_variables()
    assert variables  # the example does refer to secrets, so the test shows they are not needed
    env = {k: v for k, v in os.environ.items() if k not in variables and k != "POLICY_FILE"}

    offline = subprocess.run(
        [sys.executable, "-m", "app", "check", "--offline", str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    online = subprocess.run(
        [sys.executable, "-m", "app", "check", str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert offline.returncode == EXIT_VALID, offline.stdout + offline.stderr
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    counts = (
        f"{len(example['integrations'])} integrations, {len(example['bundles'])} bundles, "
        f"{len(example['access_flows'])} access flows"
    )
    assert offline.stdout == f"{EXAMPLE}: valid offline ({counts}; 0 warnings)\n"
    # Without --offline the same environment fails, once per variable: nothing else changed.
    assert online.returncode == EXIT_INVALID
    assert online.stdout.count("is not set") == len(variables)


def test_the_example_passes_offline_in_process_with_its_variables_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in example_variables():
        monkeypatch.delenv(variable, raising=False)

    code, out, err = cli(["check", "--offline", "--format", "json", str(EXAMPLE)])

    document = json.loads(out)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert (code, err) == (EXIT_VALID, "")
    assert document["valid"] is True
    assert document["mode"] == "offline"
    assert document["diagnostics"] == []


def test_offline_ignores_the_environment_that_makes_the_same_check_fail_online() -> None:
    env = {"PATH": "/nowhere"}  # none of the example's variables

    offline_code, offline = check(EXAMPLE, env=env)
    online_code, online = check(EXAMPLE, env=env, offline=False)

    assert (offline_code, online_code) == (EXIT_VALID, EXIT_INVALID)
    assert "not set" not in offline
    assert "environment variable PROD_PG_PASSWORD is not set" in online


# -- a broken file: every problem at its line and column --------------------------------------


def test_a_broken_file_fails_offline_with_each_problem_at_its_line_and_column() -> None:
    code, out = check(BROKEN)

    lines = out.splitlines()
    assert code == EXIT_INVALID
    assert [line.split(": error: ")[0] for line in lines[:-1]] == [
        f"{BROKEN}:{line}:{column}" for line, column, _, _ in BROKEN_PROBLEMS
    ]
    assert lines[-1] == f"{BROKEN}: 5 errors, 0 warnings; the policy was not loaded"


def test_the_json_diagnostics_of_a_broken_file_carry_file_line_column_severity_and_hint() -> None:
    code, document = check_json(BROKEN)

    assert code == EXIT_INVALID
    assert (document["valid"], document["errors"], document["warnings"]) == (False, 5, 0)
    assert [
        (d["line"], d["column"], d["code"], d["message"]) for d in document["diagnostics"]
    ] == BROKEN_PROBLEMS
    assert {d["file"] for d in document["diagnostics"]} == {str(BROKEN)}
    assert {d["severity"] for d in document["diagnostics"]} == {"error"}
    by_code = {d["code"]: d for d in document["diagnostics"]}
    assert by_code["int_parsing"]["hint"] is None
    assert by_code["unknown-bundle"]["hint"] == "did you mean 'prod-read'? known bundles: prod-read"
    assert by_code["choice-above-max"]["path"] == "access_flows[0].duration.choices[1]"


def test_an_unset_variable_counts_as_set_offline_but_not_online() -> None:
    _, offline = check_json(BROKEN)
    online_code, online = check_json(BROKEN, offline=False)

    assert online_code == EXIT_INVALID
    assert online["mode"] == "online"
    missing = [d for d in online["diagnostics"] if d["code"] == "missing-env"]
    assert [(d["line"], d["column"], d["message"]) for d in missing] == [
        (11, 17, "environment variable CI_BROKEN_PG_PASSWORD is not set")
    ]
    assert online["diagnostics"] == sorted(
        offline["diagnostics"] + missing, key=lambda d: (d["line"], d["column"])
    )


def test_a_yaml_syntax_error_is_reported_at_its_line_and_column_in_both_formats() -> None:
    text_code, text = check(BAD_YAML)
    json_code, document = check_json(BAD_YAML)

    assert text.startswith(f"{BAD_YAML}:3:2: error: invalid YAML: did not find expected key")
    [problem] = document["diagnostics"]
    assert (problem["line"], problem["column"], problem["code"]) == (3, 2, "yaml-syntax")
    assert problem["message"] == "invalid YAML: did not find expected key"
    assert (text_code, json_code) == (EXIT_INVALID, EXIT_INVALID)


@pytest.mark.parametrize(
    "host", ["${PG-HOST}", "${PG_HOST", "${1HOST}", "db-${}.internal", "${A}${b c}"]
)
def test_a_dollar_brace_that_opens_no_reference_is_an_error_offline(
    tmp_path: Path, host: str
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: "
        f"{{host: '{host}', database: d, user: u}}}}\n"
    )

    code, document = check_json(path)

    assert code == EXIT_INVALID
    assert [(d["code"], d["path"]) for d in document["diagnostics"]] == [
        ("bad-env-reference", "integrations[0].connection.host")
    ]
    assert host not in json.dumps(document)  # a connection's values are never quoted


@pytest.mark.parametrize(
    "host", ["${PG_HOST}", "db-${REGION}.${ZONE}.internal", "$PLAIN", "a$b{c}"]
)
def test_well_formed_references_and_plain_dollars_pass_offline(tmp_path: Path, host: str) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: "
        f"{{host: '{host}', database: d, user: u}}}}\n"
    )

    code, document = check_json(path)

    assert (code, document["diagnostics"]) == (EXIT_VALID, [])


def test_a_malformed_secret_reference_is_reported_once_by_its_model(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - name: db\n"
        "    type: postgresql\n"
        "    connection: {host: h, database: d, user: u, password: '${PG-PASSWORD}'}\n"
    )

    _, document = check_json(path)

    assert [(d["line"], d["column"], d["message"]) for d in document["diagnostics"]] == [
        (
            4,
            59,
            "password: secrets must be written as ${ENV_VAR} references, never in the file",
        )
    ]


# -- limits -----------------------------------------------------------------------------------


def _bundle_policy(tmp_path: Path, objects: int) -> Path:
    lines = [
        "integrations:",
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}",
        "bundles:",
        "  - name: everything",
        "    objects:",
        *(
            f"      - {{integration: db, resource: public.t{i}, permission: read_only}}"
            for i in range(objects)
        ),
        "access_flows:",
        "  - name: f",
        "    grantees: {users: [U024BE7LH]}",
        "    bundles: [everything]",
        "    approvers: automatic",
        "    duration: {default: 1h, max: 1h}",
    ]
    path = tmp_path / "policy.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bundle_above_1000_objects_is_a_warning_at_its_objects_key(tmp_path: Path) -> None:
    code, document = check_json(_bundle_policy(tmp_path, 1_001))

    assert code == EXIT_VALID  # warnings are allowed
    [problem] = document["diagnostics"]
    assert (problem["line"], problem["column"], problem["severity"]) == (5, 5, "warning")
    assert problem["message"] == (
        "bundle 'everything' holds 1,001 objects, but a request holds at most 1,000, "
        "so it can never be requested whole"
    )
    assert (document["valid"], document["warnings"]) == (True, 1)


def test_a_bundle_of_exactly_1000_objects_passes(tmp_path: Path) -> None:
    assert check_json(_bundle_policy(tmp_path, 1_000))[1]["diagnostics"] == []


# -- exit codes and the command line ----------------------------------------------------------


def test_an_unreadable_file_exits_2_with_one_diagnostic_about_the_whole_file(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere.yml"
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"admins: [\xff]\n")

    missing_code, missing_doc = check_json(missing)
    binary_code, binary_doc = check_json(binary)

    assert (missing_code, binary_code) == (EXIT_UNREADABLE, EXIT_UNREADABLE)
    assert missing_doc["diagnostics"] == [
        {
            "file": str(missing),
            "line": None,
            "column": None,
            "severity": "error",
            "message": "no such file",
            "hint": "pass a policy file or set POLICY_FILE",
            "code": "unreadable",
            "path": None,
        }
    ]
    assert binary_doc["diagnostics"][0]["message"] == "not a UTF-8 text file"
    assert check(missing)[1] == (
        f"{missing}: error: no such file (pass a policy file or set POLICY_FILE)\n"
    )


def test_warnings_alone_exit_0_offline_in_both_formats(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "integrations:\n"
        "  - {name: db, type: postgresql, connection: {host: h, database: d, user: u}}\n"
        "bundles:\n"
        "  - name: spare\n"
        "    objects: [{integration: db, resource: public.t, permission: read_only}]\n"
    )

    text_code, text = check(path)
    json_code, document = check_json(path)

    assert text.splitlines()[0] == (
        f"{path}:4:11: warning: bundle 'spare' is not used by any access flow"
        " (hint: add it to a flow's `bundles:` or remove it)"
    )
    assert [(d["severity"], d["code"]) for d in document["diagnostics"]] == [
        ("warning", "unused-bundle")
    ]
    assert (text_code, json_code) == (EXIT_VALID, EXIT_VALID)


def test_offline_and_connect_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(["check", "--offline", "--connect", str(EXAMPLE)])

    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot connect"):
        run_check(path=EXAMPLE, env={}, out=io.StringIO(), offline=True, connect=True)


def test_connect_with_json_is_a_usage_error_before_anything_is_read() -> None:
    code, out, err = cli(["check", "--connect", "--format", "json", str(BROKEN)])

    assert (code, out) == (2, "")
    assert err == "error: --connect prints text only; drop --format json\n"


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(["check", "--format", "xml", str(EXAMPLE)])

    assert exited.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_the_text_format_is_the_default_and_prints_file_line_column() -> None:
    code, out, _ = cli(["check", "--offline", str(BROKEN)])

    assert code == EXIT_INVALID
    assert out == check(BROKEN)[1]
    assert out.startswith(f"{BROKEN}:7:13: error: host: ")


# -- the schema and the annotations -----------------------------------------------------------


def test_the_shipped_schema_is_valid_and_rejects_what_the_contract_rules_out() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    _, document = check_json(BROKEN)
    validator = jsonschema.Draft202012Validator(SCHEMA)

    fatal = json.loads(json.dumps(document))
    fatal["diagnostics"][0]["severity"] = "fatal"
    no_hint = json.loads(json.dumps(document))
    del no_hint["diagnostics"][0]["hint"]
    half_placed = json.loads(json.dumps(document))
    half_placed["diagnostics"][0]["line"] = None

    assert validator.is_valid(document)
    assert not validator.is_valid(fatal)
    assert not validator.is_valid(no_hint)
    assert not validator.is_valid(half_placed)


def _annotations(document: dict[str, Any], tmp_path: Path) -> list[str]:
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    path = tmp_path / "diagnostics.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [jq, "-r", "-f", str(ANNOTATIONS), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.splitlines()


def test_the_readme_annotation_filter_turns_each_diagnostic_into_a_workflow_command(
    tmp_path: Path,
) -> None:
    _, document = check_json(BROKEN)

    lines = _annotations(document, tmp_path)

    assert len(lines) == len(BROKEN_PROBLEMS)
    assert lines[2] == (
        f"::error file={BROKEN},line=19,col=26::unknown bundle 'prod-write'"
        " (hint: did you mean 'prod-read'? known bundles: prod-read)"
    )
    assert lines[1] == (
        f"::error file={BROKEN},line=8,col=13::"
        "port: input should be a valid integer, unable to parse string as an integer"
    )


def test_the_annotation_filter_escapes_and_handles_warnings_and_whole_file_problems(
    tmp_path: Path,
) -> None:
    document = {
        "diagnostics": [
            {
                "file": "a,b:c.yml",
                "line": 4,
                "column": 11,
                "severity": "warning",
                "message": "100% unused\nreally",
                "hint": None,
            },
            {
                "file": "gone.yml",
                "line": None,
                "column": None,
                "severity": "error",
                "message": "no such file",
                "hint": "pass a policy file",
            },
        ]
    }

    assert _annotations(document, tmp_path) == [
        "::warning file=a%2Cb%3Ac.yml,line=4,col=11::100%25 unused%0Areally",
        "::error file=gone.yml::no such file (hint: pass a policy file)",
    ]


def test_the_readme_documents_the_commands_exit_codes_schema_and_filter() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Policy CI\n", 1)[1].split("\n## ", 1)[0]

    for needed in (
        "python -m app check --offline --format json",
        "jq -r -f docs/schemas/github-annotations.jq",
        "docs/schemas/check-diagnostics.schema.json",
        "| 0 |",
        "| 1 |",
        "| 2 |",
    ):
        assert needed in section, needed
    example = section.split("```json\n", 1)[1].split("```", 1)[0]
    jsonschema.validate(json.loads(example), SCHEMA, cls=jsonschema.Draft202012Validator)
