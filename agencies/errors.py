"""Domain errors of the workflow: each says, in Japanese and English, what was refused.

The API maps each class to its own problem type; the web UI shows the message next to the
action. Messages carry ids and codes only, never the person's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:  # django-stubs is a development dependency
    from django_stubs_ext import StrOrPromise


class WorkflowError(Exception):
    """Base class: a request the workflow refuses; nothing was changed."""

    code = "workflow-error"
    default_message = _("この操作はできません。")

    def __init__(self, message: StrOrPromise | None = None, **context: object) -> None:
        self.context = context
        super().__init__(str(message or self.default_message))


class NotFound(WorkflowError):
    """Missing, or not visible to the caller: the two are answered the same."""

    code = "not-found"
    default_message = _("見つかりません。")


class NotAllowed(WorkflowError):
    """The caller's role or agency may not do this."""

    code = "not-allowed"
    default_message = _("この操作を行う権限がありません。")


class IllegalTransition(WorkflowError):
    code = "illegal-transition"
    default_message = _("現在の状態ではこの操作はできません。")


class DuplicateHandoff(WorkflowError):
    """The receiver already has an open hop of this sheet; send again only deliberately."""

    code = "duplicate-handoff"
    default_message = _(
        "この機関には、このシートの引き継ぎがすでに進行中です。"
        "重ねて送付する場合は、意図的な送付であることを明示してください。"
    )


class ConsentDoesNotCover(WorkflowError):
    """No consent record or approved lawful basis covers this sharing now."""

    code = "consent-does-not-cover"
    default_message = _("同意の範囲外のため送付できません。")


class ConsentWithdrawn(ConsentDoesNotCover):
    code = "consent-withdrawn"
    default_message = _("同意が撤回されているため送付できません。")


class EligibilityMismatch(WorkflowError):
    """The person falls outside whom the program (or agency) serves; send only with a reason.

    `mismatches` in the context: [{"field", "code", "message"}] (agencies.eligibility)."""

    code = "eligibility-mismatch"
    default_message = _(
        "送付先の対象に当てはまらない点があります。内容を確認し、それでも送付する場合は"
        "理由を記入してください。"
    )


class InvalidInput(WorkflowError):
    """A value a form or serializer should have caught; `field` names it."""

    code = "invalid-input"
    default_message = _("入力内容に誤りがあります。")

    def __init__(self, message: str | None = None, *, field: str = "", **context: object) -> None:
        self.field = field
        super().__init__(message, field=field, **context)


class SheetLocked(WorkflowError):
    code = "sheet-locked"
    default_message = _("送付済みのシートの変更には、変更理由が必要です(版として記録されます)。")
