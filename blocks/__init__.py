"""Pure Block Kit builders: data in, dicts out, built with ``slack_sdk.models`` so Slack's element
limits are checked at ``to_dict()``; :mod:`blocks.limits` checks what those models do not."""
