"""What `/apono help` answers."""

from __future__ import annotations

from typing import Final

HELP: Final = """*Just-in-time access*
• `/apono` or `/apono request` — request access: single objects, or all or part of a bundle \
(switch to *📦 Bundle Mode*)
• `/apono revoke AR-XXXXXX` — end an active request now (requester, its approvers, admins)
• `/apono history` — your past requests
• `/apono report [last 7d] [bundle NAME] [status STATUS] …` — CSV report in a DM (admins)
• `/apono help` — this message
Your requests, what waits for your approval and *Request again* are on the app's *Home* tab."""
