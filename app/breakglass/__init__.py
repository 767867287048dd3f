"""Break-glass (README, "Break-glass"): the alarm a break-glass request sounds and the
*Acknowledge* button on it. The request itself is made by the request modal (app/requesting/),
which gets this feature's alarm from the wiring point; *Revoke now* is the revocation feature's."""
