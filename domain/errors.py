"""Domain errors carry what a person needs to understand the refusal."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused an operation; ``str(error)`` is safe to show to users."""
