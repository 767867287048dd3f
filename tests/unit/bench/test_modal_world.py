"""The request-modal benchmarks run on a policy an admin could really load."""

from __future__ import annotations

from bench.modal_world import SMALL_BUNDLES, TEAMS, policy, workspace
from domain.policy_checks import check_policy


def test_the_benchmark_policy_passes_every_policy_check() -> None:
    assert check_policy(policy=policy(), env={}) == []


def test_the_requester_is_in_fifty_groups_each_with_its_own_flow() -> None:
    flows = [f for f in policy().access_flows if f.name.startswith("team-")]
    requester_groups = [g for g in workspace().groups if "U0BENCH" in g.users]
    assert len(flows) == len(requester_groups) == TEAMS
    assert sum(len(f.bundles) for f in flows) == SMALL_BUNDLES
