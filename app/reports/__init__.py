"""CSV reports: ``/apono report``, scheduled reports and ``python -m app report``."""
