"""The demo's story, played by simulated people against the real app."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import psycopg
import pymysql
import redis

from app.bootstrap import Application, build_application, integrations_from
from app.settings import Settings
from demo.targets import RUN, Targets, demo_targets
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Message, Simulator, User, UserGroup, View, Workspace, texts_of
from slacksim.workspace import Channel

ALICE, BOB, AUDIT = "U0DEMOALICE", "U0DEMOBOB", "C0AUDIT"
NAMES = {ALICE: "Alice (developer)", BOB: "Bob (Alice's manager)", AUDIT: "#access-audit"}
DURATION_SECONDS = 20
MAX_LINES = 14
TIMEOUT = 30.0


class StepFailed(Exception):
    """A step of the story did not hold."""


@dataclass
class Story:
    sim: Simulator
    app: Application
    targets: Targets
    out: TextIO
    request_id: str = ""
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def wait(self, what: str, predicate: Callable[[], object], timeout: float = TIMEOUT) -> None:
        try:
            self.sim.wait_for(predicate, timeout=timeout)
        except TimeoutError:
            raise StepFailed(f"{what}: not within {timeout:.0f} s") from None

    def view(self, user: str) -> View:
        view = self.sim.top_view(user)
        if view is None:
            raise StepFailed(f"{NAMES[user]} has no modal open")
        return view

    def updated(self, user: str, act: Callable[[], object]) -> View:
        before = len(self.sim.calls_to("views.update"))
        act()
        self.wait("the modal to update", lambda: len(self.sim.calls_to("views.update")) > before)
        return self.view(user)


def workspace() -> Workspace:
    return Workspace(
        users=[
            User(
                id=ALICE,
                name="alice",
                real_name="Alice Doe",
                email="alice@example.com",
                tz="Europe/Paris",
                tz_offset=3600,
            ),
            User(
                id=BOB,
                name="bob",
                real_name="Bob Stone",
                email="bob@example.com",
                tz="America/New_York",
                tz_offset=-18000,
            ),
        ],
        groups=[UserGroup(id="S0DEVS", handle="developers", name="Developers", users=[ALICE])],
        channels=[Channel(id=AUDIT, name="access-audit")],
    )


def demo_policy(targets: Targets) -> Policy:
    return Policy.model_validate(
        {
            "integrations": targets.integrations,
            "bundles": [
                {
                    "name": "prod-incident",
                    "description": "Production sales data during an incident",
                    "objects": targets.objects,
                }
            ],
            "access_flows": [
                {
                    "name": "developers",
                    "grantees": {"groups": ["@developers"]},
                    "bundles": ["prod-incident"],
                    "approvers": {"manager": True},
                    "duration": {"default": f"{DURATION_SECONDS}s", "max": f"{DURATION_SECONDS}s"},
                    "justification": "required",
                }
            ],
            "managers": {"alice@example.com": "bob@example.com"},
        }
    )


def text_of(message: Message) -> str:
    return " ".join(texts_of(message.blocks)) or message.text


def about(messages: list[Message], request_id: str, marker: str) -> list[Message]:
    return [m for m in messages if request_id in text_of(m) and marker in text_of(m)]


# -- the steps --------------------------------------------------------------------------------


def request_part_of_the_bundle(story: Story) -> None:
    sim = story.sim
    ack = sim.slash_command(ALICE, text="")
    story.wait("the request modal to open", lambda: sim.top_view(ALICE) is not None)
    story.say(f"  /apono acknowledged in {ack.latency * 1000:.0f} ms; the request modal opened")
    view = story.updated(
        ALICE, lambda: sim.click(ALICE, action_id="modal.mode.bundle", view_id=story.view(ALICE).id)
    )
    view = story.updated(
        ALICE,
        lambda: sim.select(ALICE, action_id="modal.bundle", view_id=view.id, value="prod-incident"),
    )
    summary = next(t for t in texts_of(view.blocks) if "objects in" in t)
    story.say(f"  Bundle Mode → prod-incident: {summary.splitlines()[-1]}")
    wanted = [o["resource"] for o in story.targets.objects if o["resource"] != "sales.refunds"]
    for resource in wanted:
        query = resource.split(".")[-1].split(":")[0] or resource
        found = sim.suggest(
            ALICE, view_id=story.view(ALICE).id, action_id="modal.add_object", query=query
        )
        option = next((o for o in found if o["text"]["text"].startswith(resource)), None)
        if option is None:
            raise StepFailed(f"typeahead did not offer {resource}")
        story.updated(ALICE, partial(add_object, story, option))
    picked = next(t for t in texts_of(story.view(ALICE).blocks) if t.startswith("*Selected"))
    story.say(f"  picked {len(wanted)} of {len(story.targets.objects)} objects: {picked}")
    sim.type_text(
        ALICE,
        view_id=story.view(ALICE).id,
        action_id="modal.justification",
        text="INC-4711: orders stuck in checkout",
    )
    done = sim.submit_view(ALICE, view_id=story.view(ALICE).id)
    match = re.search(r"AR-[0-9A-Z]{6}", json.dumps((done.payload or {}).get("view", {})))
    if match is None:
        raise StepFailed(f"the submission was not accepted: {done.payload}")
    story.request_id = match.group(0)
    story.say(f"  submitted: request {story.request_id}")


def add_object(story: Story, option: dict[str, Any]) -> None:
    view = story.view(ALICE)
    story.sim.select(ALICE, action_id="modal.add_object", view_id=view.id, option=option)


def manager_approves(story: Story) -> None:
    sim, request_id = story.sim, story.request_id
    story.wait(
        "Bob's approval request", lambda: about(sim.messages(BOB), request_id, "Access request")
    )
    [ask] = about(sim.messages(BOB), request_id, "Access request")
    sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    story.say("  Bob clicked Approve all in his DM")


def credentials_arrive_and_work(story: Story) -> None:
    sim, request_id = story.sim, story.request_id
    expected = len({o["integration"] for o in story.targets.objects})
    story.wait(
        "one credentials DM per integration",
        lambda: len(about(sim.messages(ALICE), request_id, "Access details")) == expected,
    )
    for message in about(sim.messages(ALICE), request_id, "Access details"):
        found = re.search(r"Access details for \*([^*]+)\*", text_of(message))
        fields = dict(re.findall(r"\*([^*]+)\*: `([^`]*)`", text_of(message)))
        if found:
            story.credentials[found.group(1)] = {k.lower(): v for k, v in fields.items()}
    story.say(f"  {len(story.credentials)} credentials DMs arrived, one per integration")
    for name, result in use_all(story).items():
        if result is not True:
            raise StepFailed(f"the {name} credentials did not work: {result}")
        story.say(f"  used the {name} credentials once: it works")


def access_expires(story: Story) -> None:
    sim, request_id = story.sim, story.request_id
    story.say(f"  waiting for the {DURATION_SECONDS} s of access to run out…")
    story.wait(
        "the expiry",
        lambda: about(sim.messages(ALICE), request_id, "expired"),
        timeout=DURATION_SECONDS + TIMEOUT,
    )
    for name, result in use_all(story).items():
        if result is True:
            raise StepFailed(f"the {name} credentials still work after expiry")
        story.say(f"  {name}: login refused after expiry ({result})")


def use_all(story: Story) -> dict[str, object]:
    results: dict[str, object] = {}
    for name, fields in story.credentials.items():
        kind = story.targets.kinds.get(name)
        host, port, user, password = (
            "127.0.0.1",
            int(fields["port"]),
            fields["user"],
            fields["password"],
        )
        try:
            if kind == "postgresql":
                with psycopg.connect(
                    host=host, port=port, user=user, password=password,
                    dbname=fields["database"], connect_timeout=5,
                ) as pg:  # fmt: skip
                    pg.execute("SELECT count(*) FROM sales.orders").fetchone()
            elif kind == "mysql":
                my = pymysql.connect(
                    host=host, port=port, user=user, password=password, connect_timeout=5
                )
                with my.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM `{fields['database']}`.orders")  # noqa: S608
                my.close()
            elif kind == "redis":
                client = redis.Redis(host=host, port=port, username=user, password=password)
                client.get(f"orders:{RUN}:1")
            else:
                results[name] = "a webhook stand-in: nothing to log in to"
                continue
            results[name] = True
        except Exception as error:
            results[name] = type(error).__name__
    return results


MENTION = re.compile(r"<@([A-Z0-9]+)>")
DATE = re.compile(r"<!date\^\d+\^[^|]*\|([^>]*)>")


def readable(text: str) -> str:
    """Slack's markup as a person reads it: names for mentions, dates in words, no asterisks."""
    text = MENTION.sub(lambda m: "@" + NAMES.get(m.group(1), m.group(1)).split()[0], text)
    return DATE.sub(r"\1", text).replace("*", "")


def print_transcript(story: Story) -> None:
    story.say("\nWhat each person saw in Slack:")
    for channel in (ALICE, BOB, AUDIT):
        story.say(f"\n── {NAMES[channel]} ──")
        for message in story.sim.messages(channel):
            lines = [
                readable(line)
                for text in texts_of(message.blocks)
                for line in text.splitlines()
                if line.strip()
            ]
            story.say("  • " + (lines[0] if lines else readable(message.text)))
            for line in lines[1:MAX_LINES]:
                story.say(f"      {line}")


def check_counts(story: Story) -> None:
    with story.app.store.read() as uow:
        changes = uow.requests.history(story.request_id)  # type: ignore[arg-type]
    # The audit channel gets one message per change; Alice one fewer, as granting rewrites
    # her approval DM in place (README, "Using it").
    granting = sum(1 for c in changes if c.to_status is Status.GRANTING)
    for channel, expected in ((ALICE, len(changes) - granting), (AUDIT, len(changes))):
        statuses = [
            m
            for m in about(story.sim.messages(channel), story.request_id, "")
            if "Access details" not in text_of(m) and "Access request" not in text_of(m)
        ]
        if len(statuses) != expected:
            raise StepFailed(
                f"{NAMES[channel]} got {len(statuses)} status messages for {len(changes)} "
                f"changes, not {expected}"
            )
    story.say(
        f"\n  {len(changes)} status changes: one message each to #access-audit; "
        f"{len(changes) - granting} to Alice (granting updated her approval DM in place)"
    )


STEPS: list[tuple[str, Callable[[Story], None]]] = [
    (
        "Alice opens /apono, switches to Bundle Mode and requests part of a bundle",
        request_part_of_the_bundle,
    ),
    ("Bob, her manager, approves from his DM", manager_approves),
    ("Alice's credentials arrive, one DM per integration, and work", credentials_arrive_and_work),
    ("The access expires and the logins fail", access_expires),
]


def run(*, out: TextIO) -> int:
    with (
        demo_targets() as targets,
        Simulator(workspace=workspace()) as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        for note in targets.notes:
            out.write(f"note: {note}\n")
        policy = demo_policy(targets)
        settings = Settings(
            _env_file=None, slack_bot_token=sim.bot_token, slack_app_token=sim.app_token,
            slack_api_url=sim.api_url, database_url=f"sqlite:///{Path(folder) / 'demo.db'}",
            audit_channel=AUDIT, log_level="WARNING",
        )  # fmt: skip
        app = build_application(
            settings=settings, policy=policy, channel_rate=1000.0,
            integrations=integrations_from(policy, env={"DEMO_HOOK_SECRET": "demo-hook-secret"}),
        )  # fmt: skip
        app.start()
        story = Story(sim=sim, app=app, targets=targets, out=out)
        try:
            sim.wait_for_connections(n=1)
            for number, (title, step) in enumerate(STEPS, start=1):
                story.say(f"\n{number}. {title}")
                step(story)
            check_counts(story)
            print_transcript(story)
            violations = sim.take_violations()
            if violations:
                raise StepFailed(f"Slack limits broken: {violations}")
        except StepFailed as failed:
            print_transcript(story)
            out.write(f"\nDEMO FAILED: {failed}\n")
            return 1
        finally:
            app.stop(wait_for_socket=False)
        out.write("\nDemo complete: every step held.\n")
        return 0
