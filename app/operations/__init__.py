"""Health and metrics over HTTP: ``/healthz``, ``/readyz`` and ``/metrics`` (README, "Health and
metrics").

Shared plumbing like ``app/core``: it imports no feature and no feature imports it. Everything it
watches is handed over by the wiring point (``app/bootstrap.py``) as objects or callables, and
what it counts it sees from outside: integrations wrapped in a timing decorator, the audit events
each transaction commits, the Web API responses the Slack clients receive.
"""
