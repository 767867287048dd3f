"""Ending access: requests whose time is up, revoked ones, and leftovers of grants that failed."""
