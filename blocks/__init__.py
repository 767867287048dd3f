"""Pure Block Kit builders: data in, dicts out, built with ``slack_sdk.models`` (or, for the
busiest views, :mod:`blocks.kit`'s plain dicts) and read into JSON by :func:`blocks.kit.as_dict`.
Texts are clipped to Slack's limits where they are built (:mod:`blocks.limits`); the SDK's own
validators check every view the unit tests render (tests/unit/conftest.py)."""
