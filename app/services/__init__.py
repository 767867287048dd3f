"""Use cases: submit, decide, grant, expire, revoke, report. They call the domain, the store,
the integrations and the ports below; they never build Block Kit or call Slack directly."""
