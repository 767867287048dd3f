"""Taking access away before its end: *Revoke now*, ``/apono revoke``, and the reconciler that
removes whatever the servers still hold without a reason."""
