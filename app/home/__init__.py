"""The App Home tab, ``/apono history`` and a request's details."""
