"""Extending active access, and reminding the requester before the end (README, "Extending
access")."""
