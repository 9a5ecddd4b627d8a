"""Forms of the web UI: they parse and validate input for one service call, nothing more.

Messages are in Japanese (the source language) and translated through the gettext catalog.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, AgencyKind
from audit.models import AuditAction
from consent.models import ChildAssent, Council, Decision, Grantor, Method
from consent.vocabulary import Basis, Purpose
from relay.choices import Connection, Grade, PreferredConsultee, Urgency
from relay.models import ProgressStatus, ReferralSheet
from relay.models.progress import TEXT_MAX_LENGTH as PROGRESS_TEXT_MAX_LENGTH
from relay.sections import CONTENT_FIELDS
from relay.services.sheets import (
    ALLOWED_ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    upload_content_matches,
)
from relay.states import CancelReason, DeclineReason, Outcome
from relay.views.display import category_choices, section_choices

_Field = TypeVar("_Field", bound=forms.Field)


def declared_field(form: forms.BaseForm, name: str, kind: type[_Field]) -> _Field:
    """`form.fields[name]` as the field class the form declares it with (typed for its
    attributes: choices, queryset); a TypeError if the form declares something else."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is not a {kind.__name__}")
    return field


def posted_list(form: forms.BaseForm, name: str) -> list[str]:
    """Every value a bound form was given for `name` (a multi-valued field), as strings."""
    data = form.data
    if isinstance(data, MultiValueDict):
        return [str(v) for v in data.getlist(name)]
    value = data.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


CONSENT_FORM_VERSION = "tsunagu-consent-form-v1"
SCANNED_FORM_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


def end_of_day(day: date) -> datetime:
    """A date the user picked, as the first instant of the next day in Japan time."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def last_valid_day(moment: datetime) -> date:
    """The inverse of end_of_day: the last calendar day (Japan time) a validity covers."""
    local = timezone.localtime(moment)
    if local.time() == time.min:
        return local.date() - timedelta(days=1)
    return local.date()


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class PlainSelect(forms.Select):
    """A select whose options are written in Python, with the same markup as Django's
    templates: Django renders each option through the template engine (about 0.1 ms each),
    which for the audit filter's ninety actions and the directory's agencies was a third of
    the supervisor's audit page."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            rendered = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (option["value"], flatatt(option["attrs"]), option["label"])
                    for option in options
                ),
            )
            if group_name:
                rendered = format_html('<optgroup label="{}">{}</optgroup>', group_name, rendered)
            groups.append(rendered)
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("".join(groups)),  # noqa: S308 (each part built by format_html)
        )


class SheetForm(forms.ModelForm):
    """The つなぐシート. Initials by default; the full name only where really needed."""

    categories = forms.MultipleChoiceField(
        label=_("支援が必要な分野"), required=False, widget=forms.CheckboxSelectMultiple
    )
    connections = forms.MultipleChoiceField(
        label=_("つながっている機関"),
        required=False,
        choices=Connection.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    preferred_consultee = forms.MultipleChoiceField(
        label=_("希望する相談先"),
        required=False,
        choices=PreferredConsultee.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(
        label=_("変更の理由"),
        required=False,
        widget=_textarea(2),
        help_text=_("送付済みのシートを変更すると、変更前の内容が版として残ります。"),
    )

    class Meta:
        model = ReferralSheet
        fields = list(CONTENT_FIELDS)
        widgets = {
            "subject_initials": forms.TextInput(
                attrs={"placeholder": "A.T", "autocomplete": "off", "size": 8}
            ),
            "subject_full_name": forms.TextInput(
                attrs={"autocomplete": "off", "class": "exceptional"}
            ),
            "birth_year": forms.NumberInput(
                attrs={"min": 1930, "max": 2100, "placeholder": "2012"}
            ),
            "consulted_on": DateInput(),
            "consultation": _textarea(5),
            "support_policy": _textarea(),
            "school_life": _textarea(),
            "family_structure": _textarea(2),
            "home_situation": _textarea(),
            "physical_condition": _textarea(2),
            "mental_condition": _textarea(2),
            "developmental_traits": _textarea(2),
            "safeguarding_note": _textarea(),
            "connections_note": _textarea(2),
            "wish_person": _textarea(2),
            "wish_guardian": _textarea(2),
            "child_view": _textarea(2),
            "interests": _textarea(2),
        }
        help_texts = {
            "subject_initials": _("姓名のイニシャルのみ(例: 明石 太郎 → A.T)。"),
            "absence_reason": _("長期欠席の調査の分類(1 病気/2 経済的理由/3 不登校/4 その他)。"),
        }

    def __init__(self, *args: Any, locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locked = locked
        declared_field(self, "categories", forms.MultipleChoiceField).choices = category_choices()
        if not self.instance.pk:
            self.fields["consulted_on"].initial = timezone.localdate()
        for name in ("absence_days_month", "absence_days_since_april", "absence_days_last_year"):
            self.fields[name].widget.attrs.update({"min": 0, "max": 366})
        if locked:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]

    def content(self) -> dict[str, Any]:
        """The cleaned content fields, as the sheet services take them."""
        return {name: self.cleaned_data[name] for name in CONTENT_FIELDS}


class AttachmentForm(forms.Form):
    title = forms.CharField(label=_("資料名"), max_length=120)
    file = forms.FileField(
        label=_("ファイル"), help_text=_("PDF・画像(PNG/JPEG)・テキスト、10MBまで。")
    )
    reason = forms.CharField(label=_("追加の理由"), required=False, widget=_textarea(2))

    def __init__(self, *args: Any, locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if locked:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(_("ファイルが大きすぎます(10MBまで)。"))
        if upload.content_type not in ALLOWED_ATTACHMENT_TYPES:
            raise forms.ValidationError(_("PDF・PNG・JPEG・テキストのファイルを選んでください。"))
        return upload


class ConsentForm(forms.Form):
    """Consent of the person or guardian, or a lawful basis that stands in for it."""

    basis = forms.ChoiceField(
        label=_("提供の根拠"),
        choices=Basis.choices,
        initial=Basis.CONSENT,
        widget=forms.RadioSelect,
    )
    decision = forms.ChoiceField(
        label=_("本人・保護者の意思"),
        choices=Decision.choices,
        initial=Decision.PERMIT,
        widget=forms.RadioSelect,
        required=False,
    )
    grantors = forms.MultipleChoiceField(
        label=_("同意した人"),
        choices=Grantor.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    child_assent = forms.ChoiceField(
        label=_("子ども本人の意向"),
        choices=[("", _("選択してください")), *ChildAssent.choices],
        required=False,
    )
    method = forms.ChoiceField(
        label=_("同意の方法"),
        choices=Method.choices,
        required=False,
        initial=Method.WRITTEN,
        widget=forms.RadioSelect,
    )
    obtained_on = forms.DateField(label=_("同意を得た日"), widget=DateInput(), required=False)
    reason = forms.CharField(
        label=_("法令上の根拠を用いる理由"),
        required=False,
        widget=_textarea(4),
        help_text=_("同意を得られない事情と、提供が必要な理由を具体的に。管理職の承認が必要です。"),
    )
    council = forms.ModelChoiceField(
        label=_("情報を共有する協議会"),
        queryset=Council.objects.order_by("kind", "name"),
        required=False,
        help_text=_(
            "要保護児童対策地域協議会・支援会議の根拠では、協議会を選びます。構成機関だけが提供先になります。"
        ),
    )
    recipients = forms.ModelMultipleChoiceField(
        label=_("提供先の機関"),
        queryset=Agency.objects.order_by("municipality", "name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    recipient_kinds = forms.MultipleChoiceField(
        label=_("提供先の種別(種別で同意する場合)"),
        choices=AgencyKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    routing_desk = forms.ModelChoiceField(
        label=_("振り分け窓口(つなぎ先を窓口が選ぶ場合)"),
        queryset=Agency.objects.filter(routing_desk__isnull=False).order_by("municipality", "name"),
        required=False,
        help_text=_("窓口と、窓口が下の種別から選ぶ機関への提供に同意する場合に選びます。"),
    )
    routing_kinds = forms.MultipleChoiceField(
        label=_("窓口がつなぐ先の種別"),
        choices=AgencyKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    sections = forms.MultipleChoiceField(
        label=_("共有する項目"), widget=forms.CheckboxSelectMultiple
    )
    purposes = forms.MultipleChoiceField(
        label=_("利用の目的"), choices=Purpose.choices, widget=forms.CheckboxSelectMultiple
    )
    valid_until = forms.DateField(label=_("有効期限(見直し日)"), widget=DateInput())
    scanned_form = forms.FileField(
        label=_("署名済みの同意書(スキャン)"),
        required=False,
        help_text=_("PDFまたは画像、10MBまで。後から紙で保管する場合は空欄で構いません。"),
    )

    def __init__(self, *args: Any, sections: set[str] | None = None, **kwargs: Any) -> None:
        """`sections`: what the recording agency holds (a holder records consent for those
        only); None for every section."""
        super().__init__(*args, **kwargs)
        declared_field(self, "sections", forms.MultipleChoiceField).choices = [
            (value, label)
            for value, label in section_choices()
            if sections is None or value in sections
        ]
        self.fields["valid_until"].initial = timezone.localdate() + timedelta(days=365)
        self.fields["obtained_on"].initial = timezone.localdate()

    @property
    def is_lawful_basis(self) -> bool:
        return self.cleaned_data.get("basis", Basis.CONSENT) != Basis.CONSENT

    def clean_valid_until(self) -> date:
        value = self.cleaned_data["valid_until"]
        if value < timezone.localdate():
            raise forms.ValidationError(_("有効期限は今日以降の日付にしてください。"))
        return value

    def clean_obtained_on(self) -> date | None:
        value = self.cleaned_data.get("obtained_on")
        if value and value > timezone.localdate():
            raise forms.ValidationError(_("未来の日付は入力できません。"))
        return value

    def clean_scanned_form(self) -> Any:
        upload = self.cleaned_data.get("scanned_form")
        if upload is None:
            return None
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(_("ファイルが大きすぎます(10MBまで)。"))
        if upload.content_type not in SCANNED_FORM_TYPES or not upload_content_matches(upload):
            raise forms.ValidationError(_("PDF・PNG・JPEGのファイルを選んでください。"))
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            not data.get("recipients")
            and not data.get("recipient_kinds")
            and not data.get("routing_desk")
        ):
            self.add_error("recipients", _("提供先の機関か種別を1つ以上選んでください。"))
        if data.get("routing_desk") and self.is_lawful_basis:
            self.add_error("routing_desk", _("振り分け窓口は同意の記録でのみ指定できます。"))
        if self.is_lawful_basis:
            if not (data.get("reason") or "").strip():
                self.add_error("reason", _("理由を具体的に記入してください。"))
        else:
            if not data.get("grantors"):
                self.add_error("grantors", _("同意した人を選んでください。"))
            if not data.get("method"):
                self.add_error("method", _("同意の方法を選んでください。"))
            if not data.get("decision"):
                data["decision"] = Decision.PERMIT
        return data

    def obtained_at(self) -> datetime | None:
        day = self.cleaned_data.get("obtained_on")
        if not day or day == timezone.localdate():
            return None  # now
        return timezone.make_aware(datetime.combine(day, time(12, 0)))


class WithdrawConsentForm(forms.Form):
    via = forms.CharField(
        label=_("撤回を申し出た人"),
        max_length=100,
        help_text=_("例: 保護者(母)から電話で"),
    )
    reason = forms.CharField(label=_("理由・経過(任意)"), required=False, widget=_textarea(2))


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(label=_("誤登録とする理由"), widget=_textarea(2))


class SendForm(forms.Form):
    """Recipients, sections and purpose of the hops to send (one hop per recipient)."""

    recipients = forms.ModelMultipleChoiceField(
        label=_("送付先"), queryset=Agency.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    sections = forms.MultipleChoiceField(
        label=_("共有する項目"), widget=forms.CheckboxSelectMultiple
    )
    purpose = forms.ChoiceField(label=_("目的"), choices=Purpose.choices, initial=Purpose.SUPPORT)
    message = forms.CharField(
        label=_("送付先への連絡事項"),
        required=False,
        widget=_textarea(3),
        help_text=_("通知には含まれません。相手がログインして読みます。"),
    )
    eligibility_override_reason = forms.CharField(
        label=_("対象に当てはまらない点があっても送付する理由"),
        required=False,
        max_length=2000,
        widget=_textarea(2),
        help_text=_(
            "送付先の年齢・学年・居住地などの対象に当てはまらないと警告が出たときだけ記入します。"
            "理由は引き継ぎのメモとして残り、監査ログに記録されます。"
        ),
    )
    deliberate = forms.BooleanField(
        label=_("進行中の引き継ぎがある機関にも、意図的に重ねて送付する"),
        required=False,
        help_text=_("通常は不要です。重ねて送付したことは監査ログに記録されます。"),
    )

    def __init__(self, *args: Any, agencies: Any, readable: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared_field(self, "recipients", forms.ModelMultipleChoiceField).queryset = agencies
        declared_field(self, "sections", forms.MultipleChoiceField).choices = [
            c for c in section_choices() if c[0] in readable
        ]


class NoteForm(forms.Form):
    note = forms.CharField(label=_("メモ(任意)"), required=False, widget=_textarea(2))


class ReturnForm(forms.Form):
    note = forms.CharField(label=_("差し戻しの理由"), widget=_textarea(2))


class UpdateForm(forms.Form):
    """Send the receiver the shared sections as they are now (a new version)."""

    note = forms.CharField(
        label=_("更新の連絡事項(任意)"),
        required=False,
        widget=_textarea(2),
        help_text=_(
            "共有している項目の現在の内容を、新しい版として送付します。"
            "送付の前に同意の範囲を確認します。"
        ),
    )


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("辞退の理由"), choices=[("", _("選択してください")), *DeclineReason.choices]
    )
    note = forms.CharField(label=_("補足"), required=False, widget=_textarea(2))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == DeclineReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", _("「その他」の場合は理由を記入してください。"))
        return data


class CompleteForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("結果"), choices=[("", _("選択してください")), *Outcome.choices]
    )
    note = forms.CharField(label=_("補足"), required=False, widget=_textarea(2))


class CancelForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("取り下げの理由"), choices=[("", _("選択してください")), *CancelReason.choices]
    )
    note = forms.CharField(label=_("補足"), required=False, widget=_textarea(2))


class BasisDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", _("承認")), ("reject", _("却下"))], widget=forms.HiddenInput
    )
    note = forms.CharField(
        label=_("コメント(却下の場合は必須)"), required=False, widget=_textarea(2)
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not (data.get("note") or "").strip():
            self.add_error("note", _("却下の理由を記入してください。"))
        return data


class PeriodForm(forms.Form):
    """A date range (inclusive); empty fields fall back to the last `default_days` days."""

    default_days = 30

    start = forms.DateField(label=_("開始日"), required=False, widget=DateInput())
    end = forms.DateField(label=_("終了日"), required=False, widget=DateInput())

    def __init__(self, *args: Any, default_days: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if default_days is not None:
            self.default_days = default_days
        today = timezone.localdate()
        self.fields["end"].initial = today
        self.fields["start"].initial = today - timedelta(days=self.default_days - 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", _("終了日は開始日以降にしてください。"))
        return data

    def bounds(self) -> tuple[datetime, datetime]:
        """[from, to) as aware datetimes in Japan time."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        end = data.get("end") or self.fields["end"].initial
        start = data.get("start") or (end - timedelta(days=self.default_days - 1))
        return timezone.make_aware(datetime.combine(start, time.min)), end_of_day(end)


class AuditFilterForm(PeriodForm):
    """Filters of the audit log viewer (all optional)."""

    actor = forms.CharField(label=_("操作者(ユーザー名)"), required=False, max_length=150)
    agency = forms.ModelChoiceField(
        label=_("機関"),
        queryset=Agency.objects.order_by("municipality", "name"),
        required=False,
        empty_label=_("すべて"),
        widget=PlainSelect,
    )
    action = forms.ChoiceField(label=_("操作"), required=False, widget=PlainSelect)
    sheet = forms.IntegerField(label=_("シート番号"), required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared_field(self, "action", forms.ChoiceField).choices = [
            ("", _("すべて")),
            *AuditAction.choices,
        ]


class ProvisionFilterForm(PeriodForm):
    direction = forms.ChoiceField(
        label=_("区分"),
        required=False,
        choices=[
            ("both", _("提供と受領")),
            ("provided", _("提供(送付)")),
            ("received", _("受領")),
        ],
    )


class SheetFilterForm(forms.Form):
    """Search and filters of the agency's own sheets (all optional)."""

    q = forms.CharField(
        label=_("イニシャル・学校名"),
        required=False,
        max_length=60,
        help_text=_("全角・半角、ひらがな・カタカナ、記号の有無を区別しません。"),
    )
    grade = forms.ChoiceField(
        label=_("学年"), required=False, choices=[("", _("すべて")), *Grade.choices]
    )
    state = forms.ChoiceField(
        label=_("状態"),
        required=False,
        choices=[("", _("すべて")), ("draft", _("下書き(未送付)")), ("sent", _("送付済み"))],
    )
    urgency = forms.ChoiceField(
        label=_("緊急度"), required=False, choices=[("", _("すべて")), *Urgency.choices]
    )
    counselor = forms.TypedChoiceField(
        label=_("記入者"), required=False, coerce=int, empty_value=None
    )
    consulted_from = forms.DateField(label=_("相談日(から)"), required=False, widget=DateInput())
    consulted_to = forms.DateField(label=_("相談日(まで)"), required=False, widget=DateInput())

    def __init__(self, *args: Any, counselors: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared_field(self, "counselor", forms.TypedChoiceField).choices = [
            ("", _("すべて")),
            *counselors,
        ]

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (an invalid field is left out and shown as an error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class HandoffFilterForm(forms.Form):
    """Search and filters of the inbox and outbox (all optional). In the inbox the initials,
    school and grade are those the hops' provisions gave the agency, never the live sheet."""

    q = forms.CharField(
        label=_("イニシャル・学校名"),
        required=False,
        max_length=60,
        help_text=_("全角・半角、ひらがな・カタカナ、記号の有無を区別しません。"),
    )
    grade = forms.ChoiceField(
        label=_("学年"), required=False, choices=[("", _("すべて")), *Grade.choices]
    )
    status = forms.ChoiceField(label=_("状態"), required=False)

    def __init__(self, *args: Any, statuses: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        declared_field(self, "status", forms.ChoiceField).choices = [("", _("すべて")), *statuses]

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (an invalid field is left out and shown as an error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m", **kwargs)


class ProgressForm(forms.Form):
    """The receiver's progress update on an accepted hop (relay.services.progress)."""

    status = forms.ChoiceField(
        label=_("状況"), choices=[("", _("選択してください")), *ProgressStatus.choices]
    )
    text = forms.CharField(
        label=_("経過(短く)"),
        required=False,
        max_length=PROGRESS_TEXT_MAX_LENGTH,
        widget=_textarea(3),
        help_text=_(
            "本人・保護者が同意している場合にだけ、送付元に共有されます。通知には含まれません。"
        ),
    )
    attendance_month = forms.DateField(
        label=_("通所日数の対象月"),
        required=False,
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=MonthInput(),
    )
    attendance_days = forms.IntegerField(
        label=_("その月の通所日数"), required=False, min_value=0, max_value=31
    )
