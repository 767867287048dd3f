"""The pure core: request lifecycle, policy model, eligibility. No Slack, no SQL."""
