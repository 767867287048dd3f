"""Who is on call now, asked of PagerDuty and Opsgenie (README, "On call").

Shared by requesting (who may request, automatic approval) and by the grant-time check and the
approvers in ``app/core``, so it lives here rather than in a feature.
"""
