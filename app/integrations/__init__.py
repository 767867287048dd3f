"""One module per integration type behind the small interface in :mod:`app.integrations.base`."""
