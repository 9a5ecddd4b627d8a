"""What the API says about hops and sheets, and what it accepts: explicit fields only.

Lists show ids, agencies, states and clocks, never the person: the sheet's content appears only
in a detail, and only the sections the reader's agency may see (decided by the services).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.etag import etag_for
from api.fields import (
    OutputModelSerializer,
    StrictCharField,
    StrictIntegerField,
)
from api.serializers import AgencyRefSerializer, ServiceRefSerializer
from consent.vocabulary import Purpose, Section
from relay.choices import Grade
from relay.models import Handoff, NoteKind, ReferralSheet
from relay.sections import SECTION_FIELDS
from relay.states import CancelReason, DeclineReason, Outcome, Status

NOTE_MAX_LENGTH = 2000


def _section_serializer(section: Section) -> type[serializers.Serializer]:
    """A read-only serializer of one section's fields, typed from the sheet model."""
    names = list(SECTION_FIELDS[section])
    if not names:  # attachments: the files are listed apart, on the sheet
        return type(f"{section.name.title()}SectionSerializer", (serializers.Serializer,), {})
    # Empty choices are written out as null (OutputModelSerializer). Every field of a section
    # is always present in it.
    meta = type("Meta", (), {"model": ReferralSheet, "fields": names})
    return type(
        f"{section.name.title()}SectionSerializer",
        (OutputModelSerializer,),
        {"Meta": meta, "__doc__": f"The '{section.value}' section of a sheet."},
    )


SheetContentSerializer = type(
    "SheetContentSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "The shared sections only: a section the reader may not see is absent.",
        "response_optional": tuple(str(section.value) for section in Section),
        **{str(section.value): _section_serializer(section)(required=False) for section in Section},
    },
)


class HandoffSerializer(OutputModelSerializer):
    """A hop as lists and actions show it: no content of the sheet, no free text.

    Output only; an empty reason or outcome is null.
    """

    from_agency = AgencyRefSerializer(read_only=True)
    to_agency = AgencyRefSerializer(read_only=True)
    service = ServiceRefSerializer(
        read_only=True,
        allow_null=True,
        help_text="The receiver's program the hop asks for; null if none was named.",
    )
    direction = serializers.SerializerMethodField(
        help_text="'received' when the caller's agency is the receiver, else 'sent'."
    )
    etag = serializers.SerializerMethodField(help_text="The ETag to send back in If-Match.")

    class Meta:
        model = Handoff
        fields = [
            "id",
            "sheet",
            "parent",
            "direction",
            "from_agency",
            "to_agency",
            "service",
            "status",
            "sections",
            "purpose",
            "urgent",
            "escalation_level",
            "ack_due_at",
            "created_at",
            "sent_at",
            "acknowledged_at",
            "accepted_at",
            "declined_at",
            "decline_reason",
            "completed_at",
            "outcome",
            "cancelled_at",
            "cancel_reason",
            "withdrawn_at",
            "updated_at",
            "version",
            "etag",
        ]

    def to_representation(self, instance: Handoff) -> dict[str, Any]:
        """The declared fields, written out through HANDOFF_LAYOUT (the list's fast path
        writes the same from plain rows): DRF's generic field walk cost about 0.3 ms per row.
        tests/api/test_handoff_list.py checks that both give DRF's document."""
        agency = self.context.get("agency")
        reader = None if agency is None else agency.pk
        return handoff_document(instance_row(instance), reader=reader)

    def generic_representation(self, instance: Handoff) -> dict[str, Any]:
        """DRF's own walk over the declared fields (the reference for to_representation)."""
        return dict(super().to_representation(instance))

    def get_direction(self, handoff: Handoff) -> str:
        agency = self.context.get("agency")
        return "received" if agency is not None and handoff.to_agency_id == agency.pk else "sent"

    def get_etag(self, handoff: Handoff) -> str:
        return etag_for(handoff)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # JSONField gives no type; document the sections as the vocabulary they are.
        fields["sections"] = serializers.ListField(
            child=serializers.ChoiceField(choices=Section.choices), read_only=True
        )
        return fields


# --- The hop's document from plain rows -----------------------------------------------------
#
# One declared list, HANDOFF_LAYOUT: each field of HandoffSerializer.Meta.fields, in order, with
# the columns it reads (paths as QuerySet.values() takes them) and how they become its JSON
# value. Lists fetch exactly these columns as dicts (no model instances) and write the
# document from them; a single hop (an action's answer) goes through the same list from its
# instance. To add a field to the hop's document: add it to Meta.fields and one Field here;
# tests/api/test_handoff_list.py fails until both agree, and checks the bytes against DRF.


Row = dict[str, Any]


@dataclass(frozen=True)
class Reading:
    """Who reads (the agency's id, for what depends on it) and in which time zone."""

    reader: int | None
    tz: tzinfo


@dataclass(frozen=True)
class Field:
    """A field of the document: its name, the columns it reads, and its value from a row."""

    name: str
    columns: tuple[str, ...]
    value: Callable[[Row, Reading], Any]


def _plain(name: str, column: str | None = None) -> Field:
    key = column or name
    return Field(name, (key,), lambda row, reading: row[key])


def _blank_as_null(name: str) -> Field:
    """A choice that may be blank: blank is null (OutputModelSerializer)."""
    return Field(name, (name,), lambda row, reading: row[name] or None)


def _when(name: str) -> Field:
    """A datetime as DRF writes it: ISO 8601 in the current time zone, UTC as Z. A row of the
    list's prepared page (api.handoff_page) holds it as that text already, written by
    PostgreSQL."""

    def value(row: Row, reading: Reading) -> str | None:
        moment = row[name]
        if moment is None or isinstance(moment, str):
            return moment
        text = moment.astimezone(reading.tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return Field(name, (name,), value)


def _agency(name: str) -> Field:
    slug, label = f"{name}__slug", f"{name}__name"
    return Field(name, (slug, label), lambda row, reading: {"slug": row[slug], "name": row[label]})


HANDOFF_LAYOUT: tuple[Field, ...] = (
    _plain("id"),
    _plain("sheet", "sheet_id"),
    _plain("parent", "parent_id"),
    Field(
        "direction",
        ("to_agency_id",),
        lambda row, reading: "received" if row["to_agency_id"] == reading.reader else "sent",
    ),
    _agency("from_agency"),
    _agency("to_agency"),
    Field(
        "service",
        ("service_id", "service__slug", "service__name"),
        lambda row, reading: (
            None
            if row["service_id"] is None
            else {
                "id": row["service_id"],
                "slug": row["service__slug"],
                "name": row["service__name"],
            }
        ),
    ),
    _plain("status"),
    Field("sections", ("sections",), lambda row, reading: list(row["sections"])),
    _plain("purpose"),
    _plain("urgent"),
    _plain("escalation_level"),
    _when("ack_due_at"),
    _when("created_at"),
    _when("sent_at"),
    _when("acknowledged_at"),
    _when("accepted_at"),
    _when("declined_at"),
    _blank_as_null("decline_reason"),
    _when("completed_at"),
    _blank_as_null("outcome"),
    _when("cancelled_at"),
    _blank_as_null("cancel_reason"),
    _when("withdrawn_at"),
    _when("updated_at"),
    _plain("version"),
    Field("etag", ("id", "version"), lambda row, reading: f'"{row["id"]}-{row["version"]}"'),
)
# Every column the layout reads, once each, in order: what a list selects.
HANDOFF_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(column for field in HANDOFF_LAYOUT for column in field.columns)
)


def handoff_document(row: Row, *, reader: int | None) -> dict[str, Any]:
    """The hop's document (HandoffSerializer's) from a row of HANDOFF_COLUMNS."""
    reading = Reading(reader, timezone.get_current_timezone())
    return {field.name: field.value(row, reading) for field in HANDOFF_LAYOUT}


def handoff_documents(rows: list[Row], *, reader: int | None) -> list[dict[str, Any]]:
    reading = Reading(reader, timezone.get_current_timezone())
    layout = [(field.name, field.value) for field in HANDOFF_LAYOUT]
    return [{name: value(row, reading) for name, value in layout} for row in rows]


def _agency_ref(agency: Any) -> dict[str, str]:
    return {"slug": agency.slug, "name": agency.name}


def instance_row(instance: Handoff) -> Row:
    """A loaded hop as the row its list would have fetched."""
    row: Row = {}
    for column in HANDOFF_COLUMNS:
        value: Any = instance
        for part in column.split("__"):
            value = None if value is None else getattr(value, part)  # a null link: None
        row[column] = value
    return row


class HandoffNoteSerializer(serializers.Serializer):
    """One note of a transition of the hop, in the order written; never overwritten."""

    response_optional = ("author",)

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    transition = serializers.CharField(help_text="The action the note was written with.")
    text = serializers.CharField()
    agency = AgencyRefSerializer()
    author = serializers.CharField(
        help_text="Who wrote it: given only to the author's own agency.", required=False
    )
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        row = {
            "id": instance.pk,
            "kind": instance.kind,
            "transition": instance.transition,
            "text": instance.text,
            "agency": _agency_ref(instance.agency),
            "created_at": serializers.DateTimeField().to_representation(instance.created_at),
        }
        reader = self.context.get("agency")
        if reader is not None and instance.agency_id == reader.pk:
            row["author"] = instance.author_label
        return row


@extend_schema_field({"allOf": [{"$ref": "#/components/schemas/SectionsEnum"}]})
class SectionRefField(serializers.ChoiceField):
    """A section code, documented as the one SectionsEnum component."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Section.choices, **kwargs)


class ProvisionVersionSerializer(serializers.Serializer):
    """One version of what the hop gave its receiver: when, which sections, what changed."""

    version = serializers.IntegerField(min_value=1)
    sent_at = serializers.DateTimeField(source="created_at")
    sections = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices))
    changed_sections = serializers.ListField(
        child=SectionRefField(),
        help_text="Sections whose content differs from the version before (empty for 1).",
    )
    content_hash = serializers.CharField(
        help_text="SHA-256 of the canonical JSON of the version's content, as audited."
    )


class EligibilityRuleSerializer(serializers.Serializer):
    """One eligibility rule of the receiver (or its program) the person falls outside of."""

    field = serializers.ChoiceField(choices=["age", "grade", "municipality", "child_wish"])
    code = serializers.CharField(help_text="e.g. age-out-of-range, municipality-not-served.")


class HandoffDetailSerializer(HandoffSerializer):
    """One hop with its message, its notes, its versions, and the content of one version of
    what it shares (the newest unless ?version= asks for another)."""

    def to_representation(self, instance: Handoff) -> dict[str, Any]:
        return self.generic_representation(instance)

    content = serializers.SerializerMethodField(
        help_text="Section name to its fields, for the sections the caller may read now, "
        "from what was sent (a receiver never reads the live sheet; a sender before the first "
        "send sees what it would send)."
    )
    notes = serializers.SerializerMethodField(
        help_text="Every note of the hop's transitions, oldest first (a receiver does not see "
        "the sending agency's internal return notes)."
    )
    provision = serializers.SerializerMethodField(
        help_text="The version `content` is taken from; null before the first send."
    )
    versions = serializers.SerializerMethodField(
        help_text="Every version sent, oldest first (the receiver's version history)."
    )
    eligibility_overridden = EligibilityRuleSerializer(
        many=True,
        read_only=True,
        help_text="The eligibility warnings the sender overrode when creating the hop (its "
        "reason is the note of kind 'eligibility'); empty when there were none.",
    )

    class Meta(HandoffSerializer.Meta):
        fields = [
            *HandoffSerializer.Meta.fields,
            "eligibility_overridden",
            "message",
            "notes",
            "provision",
            "versions",
            "content",
        ]

    @extend_schema_field(SheetContentSerializer)
    def get_content(self, handoff: Handoff) -> dict[str, Any]:
        return SheetContentSerializer(self.context["content"]).data

    @extend_schema_field(HandoffNoteSerializer(many=True))
    def get_notes(self, handoff: Handoff) -> list[dict[str, Any]]:
        return list(
            HandoffNoteSerializer(self.context["notes"], many=True, context=self.context).data
        )

    @extend_schema_field(ProvisionVersionSerializer(allow_null=True))
    def get_provision(self, handoff: Handoff) -> dict[str, Any] | None:
        provision = self.context.get("provision")
        return None if provision is None else ProvisionVersionSerializer(provision).data

    @extend_schema_field(ProvisionVersionSerializer(many=True))
    def get_versions(self, handoff: Handoff) -> list[dict[str, Any]]:
        return list(ProvisionVersionSerializer(self.context["versions"], many=True).data)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()


class SheetSerializer(serializers.Serializer):
    """A sheet as the caller's agency may see it (relay.services.SheetView)."""

    id = serializers.IntegerField(source="sheet.pk")
    owner_agency = AgencyRefSerializer(source="sheet.owner_agency")
    version = serializers.IntegerField(source="sheet.version")
    is_owner = serializers.BooleanField()
    sections = serializers.ListField(child=serializers.ChoiceField(choices=Section.choices))
    content = SheetContentSerializer()
    attachments = AttachmentSerializer(many=True)


class VersionParamSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)


class HandoffListParamsSerializer(serializers.Serializer):
    box = serializers.ChoiceField(choices=["inbox", "outbox"], default="inbox")
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=Status.choices), required=False
    )
    updated_since = serializers.DateTimeField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=60)
    grade = serializers.ChoiceField(choices=Grade.choices, required=False)


SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
_SLUG_RE = re.compile(SLUG_PATTERN)
MAX_ID = 2**63 - 1


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 80},
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ]
    }
)
class AgencyRefField(serializers.Field):
    """An agency by slug (text) or by id (a JSON integer); returned as text for lookup."""

    default_error_messages = {"invalid": "Give the agency's slug or its id."}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= MAX_ID:
            return str(data)
        if isinstance(data, str) and len(data) <= 80 and _SLUG_RE.fullmatch(data):
            return data
        self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 80},
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ],
        "nullable": True,
    }
)
class ServiceRefField(AgencyRefField):
    """A program by slug (text) or by id (a JSON integer); looked up among the recipient's."""

    default_error_messages = {"invalid": "Give the program's slug or its id."}


class HandoffCreateSerializer(serializers.Serializer):
    """Relay a sheet the caller's agency holds onward to another agency."""

    sheet = StrictIntegerField(min_value=1, max_value=MAX_ID)
    to_agency = AgencyRefField(help_text="The agency's slug, or its id.")
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=Section.choices), min_length=1, max_length=20
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    # Not trimmed: the length a client sends is the length the schema bounds.
    message = StrictCharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
    )
    consent = StrictIntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The consent record or approved lawful basis to send under. If given, only it may "
            "cover the send; if omitted, any record in force that covers it."
        ),
    )
    deliberate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send although the agency already has an open handoff of this sheet "
        "(otherwise 409 duplicate-handoff); recorded in the audit trail.",
    )
    service = ServiceRefField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A program of `to_agency` (its slug, or its id) the hop asks for. A "
        "program of another agency, or one not taking people now, is a 400.",
    )
    eligibility_override_reason = StrictCharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text="Why the hop is sent although the person falls outside whom the program "
        "(or, without one, the agency) serves. Without it such a send answers 422 "
        "`eligibility-mismatch` listing the `mismatches`; with it the send proceeds and the "
        "override is audited.",
    )


class NoteSerializer(serializers.Serializer):
    # Not trimmed: the length a client sends is the length the schema bounds.
    note = StrictCharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
    )


def _enum_ref(component: str) -> Any:
    """Document a choice field as the enum component the hop's own field already defines:
    two input fields named `reason` with different vocabularies would otherwise collide."""
    return extend_schema_field({"allOf": [{"$ref": f"#/components/schemas/{component}"}]})


@_enum_ref("DeclineReasonEnum")
class DeclineReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=DeclineReason.choices, **kwargs)


@_enum_ref("CancelReasonEnum")
class CancelReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=CancelReason.choices, **kwargs)


class DeclineSerializer(NoteSerializer):
    """Why the receiving agency declines; the reason `other` needs a note that says why
    (400 otherwise: a rule across two fields, stated here rather than as a schema `anyOf`,
    which would turn the body into an untyped union in generated clients)."""

    reason = DeclineReasonField()


class CompleteSerializer(NoteSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)


class CancelSerializer(NoteSerializer):
    reason = CancelReasonField()
