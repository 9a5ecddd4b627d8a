"""The public intake form of a routing desk: plain words, few fields, a honeypot."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from relay.models.intake import CONTACT_MAX_CHARS, SITUATION_MAX_CHARS, Asker, ContactMethod
from security.validators import ControlCharacterValidator

# The honeypot's name reads like a field a bot fills in; people never see it.
HONEYPOT = "website"


class PublicIntakeForm(forms.Form):
    """What a person, a family member, a school or a neighbour tells the desk."""

    asker = forms.ChoiceField(
        label=_("あなたは どなたですか"),
        choices=Asker.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("どれか ひとつ えらんでください。")},
    )
    situation = forms.CharField(
        label=_("こまっていること"),
        max_length=SITUATION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": SITUATION_MAX_CHARS}),
        validators=[ControlCharacterValidator()],
        help_text=_("わかる ことだけで だいじょうぶです。なまえは 書かなくても かまいません。"),
        error_messages={
            "required": _("こまっていることを 書いてください。"),
            "max_length": _("%(limit_value)d 文字までで 書いてください。"),
        },
    )
    contact_method = forms.ChoiceField(
        label=_("れんらくの しかた"),
        choices=ContactMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("れんらくの しかたを えらんでください。")},
    )
    contact_detail = forms.CharField(
        label=_("れんらくさき(電話番号・メール・住所など)"),
        max_length=CONTACT_MAX_CHARS,
        validators=[ControlCharacterValidator()],
        error_messages={
            "required": _("れんらくさきを 書いてください。"),
            "max_length": _("%(limit_value)d 文字までで 書いてください。"),
        },
    )
    consent_to_contact = forms.BooleanField(
        label=_("まどぐちの 人から れんらくしても よいです"),
        error_messages={"required": _("れんらくして よいか、チェックしてください。")},
    )
    website = forms.CharField(
        required=False,
        label=_("この欄は空のままにしてください"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self) -> bool:
        """The hidden field was filled in: a machine, not a person."""
        return bool(self.data.get(HONEYPOT, ""))

    def submission(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "asker": data["asker"],
            "contact_method": data["contact_method"],
            "contact_detail": data["contact_detail"],
            "situation": data["situation"],
            "consent_to_contact": data["consent_to_contact"],
        }
