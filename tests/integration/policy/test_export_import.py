"""Policy file and Slack together: export → import round trip, diffs, and conflicts that are
never resolved silently (issue 7)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml

from app.cli import main
from app.core.catalog import CatalogService
from app.policy.loader import load_policy
from domain.catalog import Source
from domain.clock import ManualClock
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store

EXAMPLE = Path(__file__).resolve().parents[3] / "policy.example.yml"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> dict[str, str]:
    for name in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", EXAMPLE.read_text())):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("POLICY_FILE", str(EXAMPLE))
    return {"DATABASE_URL": database_url}


def cli(*argv: str, answer: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = (
        main(list(argv), out=out, err=err) if not answer else _with_answer(argv, answer, out, err)
    )
    return code, out.getvalue() + err.getvalue()


def _with_answer(argv: tuple[str, ...], answer: str, out: io.StringIO, err: io.StringIO) -> int:
    import builtins

    original = builtins.input
    builtins.input = lambda prompt="": answer
    try:
        return main(list(argv), out=out, err=err)
    finally:
        builtins.input = original


def test_export_then_import_gives_the_same_policy(env: dict[str, str], tmp_path: Path) -> None:
    exported = tmp_path / "exported.yml"
    code, said = cli("policy", "export", "--out", str(exported))
    assert code == 0, said
    assert cli("check", str(exported))[0] == 0
    original = load_policy(path=EXAMPLE, env=None).policy
    again = load_policy(path=exported, env=None).policy
    assert again == original
    code, said = cli("policy", "import", str(exported), "--yes")
    assert (code, said) == (0, "no changes\n")


def test_import_shows_the_diff_and_applies_only_when_confirmed(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    removed = data["bundles"].pop()["name"]
    for flow in data["access_flows"]:
        flow["bundles"] = [b for b in flow.get("bundles", []) if b != removed]
    data["access_flows"] = [f for f in data["access_flows"] if f["bundles"] or f.get("objects")]
    data["access_flows"][0]["active"] = not data["access_flows"][0].get("active", True)
    changed_flow = data["access_flows"][0]["name"]
    edited = tmp_path / "edited.yml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))

    code, said = cli("policy", "import", str(edited), answer="n")
    assert code == 1
    assert f"- bundle {removed}" in said
    assert f"~ flow {changed_flow}" in said
    assert "nothing applied" in said

    code, said = cli("policy", "import", str(edited), answer="y")
    assert code == 0
    assert "applied" in said
    exported = tmp_path / "after.yml"
    assert cli("policy", "export", "--out", str(exported))[0] == 0
    after = load_policy(path=exported, env=None).policy
    assert after is not None
    assert removed not in {b.name for b in after.bundles}
    assert after.flow(changed_flow) is not None
    assert after.flow(changed_flow).active is data["access_flows"][0]["active"]  # type: ignore[union-attr]


def test_a_bad_import_file_is_refused_with_its_problems(
    env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("bundles:\n  - name: x\n    objectz: []\n")
    code, said = cli("policy", "import", str(broken), "--yes")
    assert code == 2
    assert "broken.yml:3:5" in said


def test_a_slack_edit_survives_a_restart_and_a_change_on_both_sides_is_a_conflict(
    database_url: str,
) -> None:
    policy = load_policy(path=EXAMPLE, env=None).policy
    assert policy is not None
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine=engine)
    catalog = CatalogService(store=store, clock=ManualClock())
    assert catalog.sync_policy(policy) == []
    flow = policy.access_flows[0]
    toggled = flow.model_copy(update={"active": not flow.active})
    with store.write() as uow:  # an admin's Slack edit
        uow.catalog.save_flow(flow=toggled, source=Source.SLACK, at=ManualClock().now(), by="U1")

    # Restart with the file unchanged: the Slack edit stays, no conflict.
    assert catalog.sync_policy(policy) == []
    assert catalog.flow(flow.name).flow.active is toggled.active  # type: ignore[union-attr]

    # The file changes the same flow: Slack's version is kept and the conflict is reported.
    edited = Policy.model_validate(
        policy.model_dump(mode="json")
        | {
            "access_flows": [
                flow.model_dump(mode="json") | {"description": "changed in git"},
                *[f.model_dump(mode="json") for f in policy.access_flows[1:]],
            ]
        }
    )
    conflicts = catalog.sync_policy(edited)
    assert [(c.kind, c.name) for c in conflicts] == [("flow", flow.name)]
    assert "Slack version was kept" in str(conflicts[0])
    assert catalog.flow(flow.name).flow.active is toggled.active  # type: ignore[union-attr]
    engine.dispose()
