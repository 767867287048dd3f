"""Asking for access: ``/apono``, the request modal (Bundle Mode, picking objects, choosing a
flow) and submitting a request."""
