"""The workflow's errors (agencies.errors) as problem types, with English details.

relay must not import the API, so the registration lives here (imported by ApiConfig.ready).
A workflow error's text is Japanese; the English detail is picked from what the error carries:
the policy's reason code for consent refusals, the field for invalid input, the class otherwise.
Extension members say the same to a machine: `reason` and `missing_sections` for consent
refusals, `current_status` for an illegal transition, `errors` for invalid input.
"""

from __future__ import annotations

from typing import Any

from agencies import errors
from api.problems import register_problem, register_problem_members

# (class, slug, status, Japanese title, English title). ConsentWithdrawn subclasses
# ConsentDoesNotCover: each has its own registration, so each keeps its own type.
PROBLEMS: tuple[tuple[type[errors.WorkflowError], str, int, str, str], ...] = (
    (errors.NotFound, "not-found", 404, "見つかりません", "Not found"),
    (errors.NotAllowed, "not-allowed", 403, "この操作は許可されていません", "Not allowed"),
    (
        errors.IllegalTransition,
        "illegal-transition",
        409,
        "現在の状態ではこの操作はできません",
        "Illegal transition",
    ),
    (
        errors.DuplicateHandoff,
        "duplicate-handoff",
        409,
        "この機関への引き継ぎがすでに進行中です",
        "Duplicate handoff",
    ),
    (
        errors.ConsentDoesNotCover,
        "consent-does-not-cover",
        422,
        "同意の範囲外です",
        "Not covered by consent",
    ),
    (
        errors.ConsentWithdrawn,
        "consent-withdrawn",
        422,
        "同意が撤回されています",
        "Consent withdrawn",
    ),
    (
        errors.EligibilityMismatch,
        "eligibility-mismatch",
        422,
        "送付先の対象に当てはまらない点があります",
        "Outside the receiver's eligibility",
    ),
    (errors.InvalidInput, "invalid-input", 400, "入力内容に誤りがあります", "Invalid input"),
    (errors.SheetLocked, "sheet-locked", 409, "送付済みのシートです", "Sheet locked"),
    # Any other refusal of the workflow: a 409 that says nothing was changed.
    (errors.WorkflowError, "workflow-error", 409, "この操作はできません", "Request refused"),
)

# The policy's reason codes (consent.policy.permits) in English.
REASONS_EN: dict[str, str] = {
    "no-sections": "No section was chosen to share.",
    "refused": "The person or guardian has refused to share these sections with this agency.",
    "no-consent": "This sheet has no consent record and no lawful basis.",
    "withdrawn": "The consent has been withdrawn.",
    "basis-not-approved": "The lawful basis is awaiting a supervisor's approval.",
    "basis-rejected": "The lawful basis was rejected by a supervisor.",
    "expired": "The consent has expired.",
    "not-in-force": "No consent is in force.",
    "recipient-not-covered": "No consent covers sharing with this agency.",
    "purpose-not-covered": "No consent covers sharing for this purpose.",
    "sections-not-covered": "No consent covers sharing these sections: see missing_sections.",
    "adult-needs-own-consent": (
        "The person is 18 or older: a consent given by a guardian alone does not cover the "
        "send; record the person's own consent."
    ),
    "not-council-member": (
        "The lawful basis names a council this agency is not a member of: a council's basis "
        "covers its member agencies only."
    ),
    "kind-not-routable": (
        "The consent lets the routing desk choose among some kinds of agency only: this "
        "agency is not of one of them."
    ),
}

# Invalid input, by field (the Japanese text says the same, sometimes more precisely).
FIELDS_EN: dict[str, str] = {
    "sections": "Choose one or more known sections that your agency can itself read.",
    "purpose": "Choose a purpose from the list.",
    "to_agency": "This agency cannot receive the handoff (your own agency, or it takes no "
    "referrals).",
    "parent": "The parent handoff is not one your agency received for this sheet.",
    "reason": "Choose a reason from the list.",
    "outcome": "Choose an outcome from the list.",
    "note": "A note is required here (for example when the reason is 'other').",
    "service": "Name an active program of the receiving agency.",
    "obtained_by": "Name the staff member who obtained the consent (up to 150 characters, no "
    "control characters).",
    "scanned_form": "The scanned form must be a PDF, PNG or JPEG whose content matches its "
    "type, up to 10 MB.",
    "grantors": "Choose who consented: person, guardian or legal_representative. For a person "
    "18 or older, record the person's own consent, not a guardian's alone.",
    "method": "Choose how consent was given: written, verbal or electronic.",
    "recipients": "Name one or more recipient agencies or agency kinds.",
    "routing_desk": "Name a routing desk (with the kinds it may choose among); a refusal names "
    "no desk.",
    "routing_kinds": "Choose one or more kinds of agency this routing desk routes to.",
    "purposes": "Choose one or more purposes from the list.",
    "valid_until": "The end of validity must be a time with a zone, after its start.",
    "via": "Say who asked for the withdrawal.",
}

CLASS_EN: dict[type[errors.WorkflowError], str] = {
    errors.NotFound: "Not found.",
    errors.NotAllowed: "Your role or agency may not do this.",
    errors.IllegalTransition: "The handoff's current status does not allow this action.",
    errors.DuplicateHandoff: "This agency already has an open handoff of this sheet (see "
    "handoff_id when your agency takes part in it); send `deliberate: true` to send another.",
    errors.ConsentDoesNotCover: "No consent record or approved lawful basis covers this sharing.",
    errors.ConsentWithdrawn: "The consent has been withdrawn.",
    errors.EligibilityMismatch: "The person falls outside whom the receiving program or "
    "agency serves (see mismatches); send `eligibility_override_reason` to send anyway.",
    errors.InvalidInput: "Some input is invalid.",
    errors.SheetLocked: "The sheet was already sent: a change needs a reason and is versioned.",
    errors.WorkflowError: "This action is not possible.",
}


def english_detail(exc: errors.WorkflowError) -> str:
    """The best English sentence for a workflow error."""
    if isinstance(exc, errors.ConsentDoesNotCover):
        reason = str(exc.context.get("reason", ""))
        if reason in REASONS_EN:
            return REASONS_EN[reason]
    if isinstance(exc, errors.InvalidInput) and exc.field in FIELDS_EN:
        return FIELDS_EN[exc.field]
    for cls in type(exc).__mro__:
        if cls in CLASS_EN:
            return CLASS_EN[cls]
    return CLASS_EN[errors.WorkflowError]


def workflow_problem_members(exc: BaseException, language: str) -> dict[str, Any]:
    """detail in the asked language, and the machine-readable context of the refusal."""
    assert isinstance(exc, errors.WorkflowError)  # noqa: S101  (registered for these only)
    detail = english_detail(exc) if language == "en" else str(exc)
    members: dict[str, Any] = {"detail": detail}
    if isinstance(exc, errors.ConsentDoesNotCover):
        members["reason"] = str(exc.context.get("reason", "")) or None
        missing = exc.context.get("missing_sections", ())
        # The services pass a sorted list of section codes.
        members["missing_sections"] = (
            [str(s) for s in missing] if isinstance(missing, list | tuple) else []
        )
        if "handoff_id" in exc.context:
            # A refused send leaves the hop as the sender's draft (and the refusal audited).
            members["handoff_id"] = exc.context["handoff_id"]
    if isinstance(exc, errors.DuplicateHandoff) and "handoff_id" in exc.context:
        # The open hop, named only to an agency that takes part in it.
        members["handoff_id"] = exc.context["handoff_id"]
    if isinstance(exc, errors.EligibilityMismatch):
        found = exc.context.get("mismatches", [])
        members["mismatches"] = list(found) if isinstance(found, list) else []
    if isinstance(exc, errors.IllegalTransition) and "current" in exc.context:
        members["current_status"] = str(exc.context["current"])
    if isinstance(exc, errors.InvalidInput | errors.SheetLocked):
        field = getattr(exc, "field", "") or exc.context.get("field") or None
        members["errors"] = [{"field": field, "message": detail, "code": "invalid"}]
    return members


for _cls, _slug, _status, _title_ja, _title_en in PROBLEMS:
    register_problem(_cls, type_slug=_slug, status=_status, title_ja=_title_ja, title_en=_title_en)
register_problem_members(errors.WorkflowError, workflow_problem_members)
