"""Approving, denying and cancelling a request; its approvers' reminders and its timeout."""
