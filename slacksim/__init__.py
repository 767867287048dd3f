"""A local Slack for tests, demos and benchmarks: Web API and Socket Mode on loopback.

The app never imports this package; it reaches the simulator through its settings alone::

    from slacksim import Simulator, Workspace, User, Channel

    ws = Workspace(users=[User(id="U1", name="alice", real_name="Alice Doe")],
                   channels=[Channel(id="C1", name="access-audit")])
    with Simulator(workspace=ws) as sim:
        # the app: WebClient(token=sim.bot_token, base_url=sim.api_url) and a Socket Mode
        # handler with sim.app_token, e.g. SLACK_API_URL=sim.api_url
        start_the_app(...)
        sim.wait_for_connections(n=1)
        sim.slash_command("U1", command="/apono")
        [modal] = sim.wait_for(lambda: sim.open_views("U1"))
        sim.type_text("U1", view_id=modal.id, action_id="why", text="incident 42")
        sim.submit_view("U1", view_id=modal.id)
        print(sim.transcript())

Every view and message the app sends is checked against Slack's limits (slacksim.limits);
refusals are answered like Slack's and recorded in sim.violations. In pytest, use the
fixtures of slacksim.pytest_plugin so that an unclaimed violation fails the test.
"""

from .blockkit import find_action, texts_of
from .modals import SubmissionBlockedError
from .models import (
    Ack,
    AckTimeoutError,
    ApiCall,
    ElementNotFoundError,
    Ephemeral,
    FileRecord,
    LimitViolation,
    Message,
    NoConnectionError,
    SimulatorError,
    SlackLimitError,
    View,
)
from .recorder import CallFeed
from .simulator import Simulator
from .workspace import Channel, User, UserGroup, Workspace, demo_workspace

__all__ = [
    "Ack",
    "AckTimeoutError",
    "ApiCall",
    "CallFeed",
    "Channel",
    "ElementNotFoundError",
    "Ephemeral",
    "FileRecord",
    "LimitViolation",
    "Message",
    "NoConnectionError",
    "Simulator",
    "SimulatorError",
    "SlackLimitError",
    "SubmissionBlockedError",
    "User",
    "UserGroup",
    "View",
    "Workspace",
    "demo_workspace",
    "find_action",
    "texts_of",
]
