"""What `/apono help`, an unknown verb and `/apono report` answer."""

from __future__ import annotations

from typing import Final

HELP: Final = """*Just-in-time access*
• `/apono` or `/apono request` — request access: single objects, or all or part of a bundle \
(switch to *📦 Bundle Mode*)
• `/apono revoke AR-XXXXXX` — end an active request now (requester, its approvers, admins)
• `/apono extend AR-XXXXXX [DURATION]` — more time on your active request (within the flow's \
maximum; approvers may be asked)
• `/apono history` — your past requests
• `/apono report [last 7d] [bundle NAME] [status STATUS] …` — CSV report in a DM (admins)
• `/apono help` — this message
Your requests, what waits for your approval and *Request again* are on the app's *Home* tab."""


def unknown_command(verb: str) -> str:
    """The answer to ``/apono VERB`` for a verb the bot does not know, with the help."""
    return f"I don't know `{verb[:30]}`.\n\n{HELP}"


def report_preparing(filters: str | None) -> str:
    """The answer to ``/apono report``, before the CSV arrives."""
    shown = f" (`{filters}`)" if filters else ""
    return f"📄 Preparing your report{shown}; it arrives here as a CSV file."


REPORT_TITLE: Final = "Access report"
"""The title of the CSV file `/apono report` sends."""
