"""Slack listeners: ack, parse, call one service, render with :mod:`blocks`, one Slack call."""
