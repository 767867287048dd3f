"""Repositories: one per aggregate or table family, each bound to a unit of work's session."""
