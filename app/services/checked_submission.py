"""Submission that first asks the request modal whether the selection may be submitted now.

The request modal service owns what it offers (objects of an integration whose admin login has
not passed its check are not offered); this refuses a submission that still holds such objects
before any other rule of :class:`SubmissionService` runs.
"""

from __future__ import annotations

from typing import Any

from app.services.request_modal import FormInput, RequestModalService
from app.services.submission import Field, Refused, SubmissionService, Submitted
from domain.ids import UserId


class CheckedSubmission(SubmissionService):
    def __init__(self, *, modal: RequestModalService, **services: Any) -> None:
        super().__init__(**services)
        self._modal = modal

    def submit(self, *, draft_key: str, user: UserId, form: FormInput) -> Submitted | Refused:
        unavailable = self._modal.check_before_submit(draft_key=draft_key, user=user)
        if unavailable is None:
            return super().submit(draft_key=draft_key, user=user, form=form)
        errors = {Field.OBJECTS: unavailable.message}
        self._audit_refusal(user=user, draft=unavailable.draft, errors=errors)
        return Refused(errors)
