"""``python -m app demo``: the whole story on this machine, before anyone creates a Slack app.

The real app runs against the local Slack simulator with a SQLite file and a demo policy; three
people play the story (request, approve, use, expire) and the demo prints what each of them saw
in Slack. It exits 0 only if every step held.
"""
