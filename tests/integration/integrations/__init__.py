"""Integration tests of the integration modules against the real PostgreSQL, MariaDB and Redis."""
