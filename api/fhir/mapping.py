"""FHIR R4 resources (as JSON-ready dicts) from the relay's own objects.

Pure functions: no queries of their own beyond the objects' loaded relations, no access
decisions. A hop's content comes in as the `content` its reader may see, exactly what
relay.services.handoff_view returned for the /handoffs/{id}/ detail, so FHIR can never show a
section the detail does not.

Patterns of the Gravity SDOH Clinical Care IG where they fit: the hop is a Task (code
"fulfill") whose focus is the ServiceRequest of the referral; requester and owner are
Organizations; the outcome is a Task.output; the shared sections travel as a
QuestionnaireResponse in ServiceRequest.supportingInfo; the person is a contained Patient that
carries only what the basic section shares (initials, birth year, gender).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from agencies.models import Agency, AgencyKind, Service
from consent.models import ConsentRecord, ConsentStatus, Decision
from consent.vocabulary import Basis
from relay.models import Handoff
from relay.states import Status

FHIR_VERSION = "4.0.1"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
ORG_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY_SYSTEM = "http://loinc.org"
CONSENT_POLICY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PROVISION_ACTOR_ROLE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

# The hop's lifecycle on FHIR Task.status (closed-loop referral).
TASK_STATUS: dict[str, str] = {
    Status.DRAFT: "draft",
    Status.AWAITING_APPROVAL: "draft",  # not yet actionable; businessStatus says why
    Status.SENT: "requested",
    Status.ACKNOWLEDGED: "received",
    Status.ACCEPTED: "accepted",
    Status.COMPLETED: "completed",
    Status.DECLINED: "rejected",
    Status.CANCELLED: "cancelled",
    Status.WITHDRAWN: "cancelled",  # statusReason: consent withdrawn
}
# The referral (ServiceRequest.status) of a hop in each state.
SERVICE_REQUEST_STATUS: dict[str, str] = {
    Status.DRAFT: "draft",
    Status.AWAITING_APPROVAL: "draft",
    Status.SENT: "active",
    Status.ACKNOWLEDGED: "active",
    Status.ACCEPTED: "active",
    Status.COMPLETED: "completed",
    Status.DECLINED: "revoked",
    Status.CANCELLED: "revoked",
    Status.WITHDRAWN: "revoked",
}
CONSENT_STATUS: dict[str, str] = {
    ConsentStatus.ACTIVE: "active",
    ConsentStatus.WITHDRAWN: "inactive",
    ConsentStatus.EXPIRED: "inactive",
    ConsentStatus.ENTERED_IN_ERROR: "entered-in-error",
}
# Agency kinds on HL7 organization-type (prov: healthcare provider, govt, cg: community group,
# edu: educational institute, other).
ORGANIZATION_TYPE: dict[str, str] = {
    AgencyKind.SCHOOL: "edu",
    AgencyKind.EDUCATION_SUPPORT: "govt",
    AgencyKind.NPO_FREE_SCHOOL: "cg",
    AgencyKind.CHILD_GUIDANCE: "govt",
    AgencyKind.WELFARE_OFFICE: "govt",
    AgencyKind.HEALTH_CENTER: "prov",
    AgencyKind.HIKIKOMORI_SUPPORT: "govt",
    AgencyKind.WARD_DESK: "govt",
    AgencyKind.OTHER: "other",
}
GENDER = {"male": "male", "female": "female", "other": "other"}


def code_system(name: str) -> str:
    """This installation's code system for one of Tsunagu's vocabularies."""
    return f"{settings.SITE_URL}/fhir/CodeSystem/{name}"


def _coding(system_name: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": code_system(system_name), "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system_name: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system_name, code, display)]}


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat()


def _prune(resource: dict[str, Any]) -> dict[str, Any]:
    """FHIR has no nulls and no empty arrays or objects: drop them (recursively)."""
    pruned: dict[str, Any] = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = _prune(value)
        elif isinstance(value, list):
            value = [_prune(v) if isinstance(v, dict) else v for v in value]
            value = [v for v in value if v not in (None, "", {}, [])]
        if value in (None, "", {}, []):
            continue
        pruned[key] = value
    return pruned


def organization_reference(agency: Agency) -> dict[str, Any]:
    return {"reference": f"Organization/{agency.slug}", "display": agency.name}


def organization(agency: Agency) -> dict[str, Any]:
    """An agency of the directory as an Organization."""
    telecom = []
    if agency.phone:
        telecom.append({"system": "phone", "value": agency.phone, "use": "work"})
    if agency.website:
        telecom.append({"system": "url", "value": agency.website, "use": "work"})
    return _prune(
        {
            "resourceType": "Organization",
            "id": agency.slug,
            "identifier": [{"system": code_system("agency"), "value": agency.slug}],
            "active": True,
            "type": [
                {
                    "coding": [
                        {"system": ORG_TYPE_SYSTEM, "code": ORGANIZATION_TYPE[agency.kind]},
                        _coding("agency-kind", agency.kind),
                    ]
                }
            ],
            "name": agency.name,
            "alias": [agency.name_en] if agency.name_en else [],
            "telecom": telecom,
            "address": [
                {
                    "text": agency.address,
                    "city": agency.municipality,
                    "state": agency.prefecture,
                    "country": "JP",
                }
            ],
        }
    )


def healthcare_service_id(agency: Agency, service: Service) -> str:
    return f"{agency.slug}.{service.slug}"


def healthcare_service(agency: Agency, service: Service) -> dict[str, Any]:
    """A service (program) of an agency as a HealthcareService."""
    return _prune(
        {
            "resourceType": "HealthcareService",
            "id": healthcare_service_id(agency, service),
            "active": True,
            "providedBy": organization_reference(agency),
            "category": [
                _concept("category", category.code, category.label_en)
                for category in service.categories.all()
            ],
            "name": service.name,
            "comment": service.description,
            "availabilityExceptions": service.schedule,
            "eligibility": (
                [{"code": {"text": "eligibility"}, "comment": service.eligibility}]
                if service.eligibility
                else []
            ),
            "referralMethod": [
                {"coding": [{"system": code_system("referral-method"), "code": "tsunagu"}]}
            ]
            if agency.accepts_referrals
            else [],
        }
    )


def _answer(value: Any) -> list[dict[str, Any]]:
    """A QuestionnaireResponse answer for one field's value (none for an empty value)."""
    if value in (None, "", [], {}):
        return []
    values = value if isinstance(value, list) else [value]
    answers: list[dict[str, Any]] = []
    for item in values:
        if isinstance(item, bool):
            answers.append({"valueBoolean": item})
        elif isinstance(item, int):
            answers.append({"valueInteger": item})
        elif isinstance(item, datetime):
            answers.append({"valueDateTime": _instant(item)})
        elif isinstance(item, date):
            answers.append({"valueDate": item.isoformat()})
        else:
            answers.append({"valueString": str(item)})
    return answers


def shared_sections(handoff: Handoff, content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sections the reader may see, as a QuestionnaireResponse (one group per section)."""
    items = []
    for section, fields in content.items():
        answered = [
            {"linkId": f"{section}.{name}", "answer": _answer(value)}
            for name, value in fields.items()
        ]
        answered = [item for item in answered if item["answer"]]
        items.append({"linkId": section, "item": answered})
    return _prune(
        {
            "resourceType": "QuestionnaireResponse",
            "id": "shared-sections",
            "questionnaire": f"{settings.SITE_URL}/fhir/Questionnaire/tsunagu-sheet",
            "status": "completed",
            "subject": {"reference": "#subject"},
            "authored": _instant(handoff.sent_at or handoff.created_at),
            "item": items,
        }
    )


def subject(handoff: Handoff, content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The person, as little as the basic section shares (nothing when it is not shared)."""
    basic = content.get("basic", {})
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "subject",
        "identifier": [{"system": code_system("sheet"), "value": str(handoff.sheet_id)}],
    }
    if basic.get("subject_initials"):
        patient["name"] = [{"text": basic["subject_initials"]}]
    if basic.get("gender") in GENDER:
        patient["gender"] = GENDER[basic["gender"]]
    if basic.get("birth_year"):
        patient["birthDate"] = f"{int(basic['birth_year']):04d}"
    return patient


def service_request(handoff: Handoff, content: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The referral of a hop: who refers whom to which agency, with the shared sections."""
    return _prune(
        {
            "resourceType": "ServiceRequest",
            "id": str(handoff.pk),
            "contained": [subject(handoff, content), shared_sections(handoff, content)],
            "identifier": [{"system": code_system("handoff"), "value": str(handoff.pk)}],
            "status": SERVICE_REQUEST_STATUS[handoff.status],
            "intent": "order",
            "category": [_concept("purpose", handoff.purpose)],
            "priority": "urgent" if handoff.urgent else "routine",
            "code": {"text": "つなぐシートによる引き継ぎ (referral by Tsunagu sheet)"},
            "subject": {"reference": "#subject"},
            "authoredOn": _instant(handoff.sent_at or handoff.created_at),
            "requester": organization_reference(handoff.from_agency),
            "performer": [organization_reference(handoff.to_agency)],
            "supportingInfo": [{"reference": "#shared-sections"}],
            "basedOn": (
                [{"reference": f"ServiceRequest/{handoff.parent_id}"}] if handoff.parent_id else []
            ),
        }
    )


def _status_reason(handoff: Handoff) -> dict[str, Any] | None:
    if handoff.status == Status.DECLINED and handoff.decline_reason:
        return _concept("decline-reason", handoff.decline_reason)
    if handoff.status == Status.CANCELLED and handoff.cancel_reason:
        return _concept("cancel-reason", handoff.cancel_reason)
    if handoff.status == Status.WITHDRAWN:
        return _concept("status-reason", "consent-withdrawn")
    return None


def task(handoff: Handoff) -> dict[str, Any]:
    """A hop as the Task that tracks the referral's fulfilment (closed loop)."""
    output = []
    if handoff.outcome:
        output.append(
            {
                "type": _concept("task-output", "outcome"),
                "valueCodeableConcept": _concept("outcome", handoff.outcome),
            }
        )
    end = handoff.completed_at or handoff.declined_at or handoff.cancelled_at
    end = end or handoff.withdrawn_at
    return _prune(
        {
            "resourceType": "Task",
            "id": str(handoff.pk),
            "identifier": [{"system": code_system("handoff"), "value": str(handoff.pk)}],
            "basedOn": [{"reference": f"ServiceRequest/{handoff.pk}"}],
            "partOf": [{"reference": f"Task/{handoff.parent_id}"}] if handoff.parent_id else [],
            "status": TASK_STATUS[handoff.status],
            "statusReason": _status_reason(handoff),
            "businessStatus": {
                "coding": [_coding("handoff-status", handoff.status)],
                "text": handoff.status,
            },
            "intent": "order",
            "priority": "urgent" if handoff.urgent else "routine",
            "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{handoff.pk}"},
            "executionPeriod": {"start": _instant(handoff.sent_at), "end": _instant(end)},
            "authoredOn": _instant(handoff.created_at),
            "lastModified": _instant(handoff.updated_at),
            "requester": organization_reference(handoff.from_agency),
            "owner": organization_reference(handoff.to_agency),
            "restriction": {"period": {"end": _instant(handoff.ack_due_at)}}
            if handoff.status == Status.SENT
            else None,
            "output": output,
        }
    )


def _consent_policy(record: ConsentRecord) -> dict[str, Any]:
    if record.basis == Basis.CONSENT:
        return {"uri": code_system("basis") + "#consent"}
    return {"uri": code_system("basis") + f"#{record.basis}"}


def consent(record: ConsentRecord, recipients: Iterable[Agency]) -> dict[str, Any]:
    """A consent record (or lawful basis) as a FHIR Consent: scope patient-privacy, one
    provision permitting or denying the recipients, purposes and sections (as data classes)."""
    actors = [
        {
            "role": {"coding": [{"system": PROVISION_ACTOR_ROLE, "code": "IRCP"}]},
            "reference": organization_reference(agency),
        }
        for agency in recipients
    ]
    provision = {
        "type": "permit" if record.decision == Decision.PERMIT else "deny",
        "period": {"start": _instant(record.valid_from), "end": _instant(record.valid_until)},
        "actor": actors,
        "purpose": [_coding("purpose", purpose) for purpose in record.purposes],
        "class": [_coding("section", section) for section in record.sections],
        "provision": [
            {
                "type": "permit" if record.decision == Decision.PERMIT else "deny",
                "code": [_concept("agency-kind", kind)],
            }
            for kind in record.recipient_kinds
        ],
    }
    return _prune(
        {
            "resourceType": "Consent",
            "id": str(record.pk),
            "identifier": [{"system": code_system("consent"), "value": str(record.pk)}],
            "status": CONSENT_STATUS[record.status],
            "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": CONSENT_CATEGORY_SYSTEM, "code": "59284-0"}]}],
            "patient": {
                "identifier": {"system": code_system("sheet"), "value": str(record.sheet_id)}
            },
            "dateTime": _instant(record.obtained_at),
            "organization": [organization_reference(record.agency)],
            "policy": [_consent_policy(record)],
            "verification": [{"verified": True, "verificationDate": _instant(record.obtained_at)}]
            if record.basis == Basis.CONSENT
            else [],
            "provision": provision,
        }
    )


def bundle(resources: list[dict[str, Any]], *, base: str) -> dict[str, Any]:
    """A searchset Bundle of `resources`."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
