"""The agency's security settings, set by its supervisor: who needs a second factor, and
whether viewers (閲覧のみ) read the 要配慮 sections. A change needs the password confirmed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.actors import Staff
from agencies.models import Membership, Role, TwoFactorPolicy
from agencies.services import agency_security_policy_set
from agencies.sessions import reauth_required
from agencies.twofactor import has_second_factor, two_factor_required
from relay.views.base import staff_view


class SecurityPolicyForm(forms.Form):
    two_factor_policy = forms.ChoiceField(
        label=gettext_lazy("2段階認証"),
        choices=TwoFactorPolicy.choices,
        widget=forms.RadioSelect,
    )
    viewers_see_special_care = forms.BooleanField(
        label=gettext_lazy("閲覧のみの職員に要配慮情報(健康・虐待)を表示する"),
        required=False,
        help_text=gettext_lazy("許可すると、閲覧のみの職員にも2段階認証が必須になります。"),
    )


@reauth_required
@staff_view(Role.SUPERVISOR)
def security_policy(request: HttpRequest, staff: Staff) -> HttpResponse:
    agency = staff.agency
    form = SecurityPolicyForm(
        request.POST or None,
        initial={
            "two_factor_policy": agency.two_factor_policy,
            "viewers_see_special_care": agency.viewers_see_special_care,
        },
    )
    if request.method == "POST" and form.is_valid():
        agency_security_policy_set(
            agency=agency,
            actor=staff.audit_actor(),
            two_factor_policy=form.cleaned_data["two_factor_policy"],
            viewers_see_special_care=form.cleaned_data["viewers_see_special_care"],
        )
        messages.success(request, _("セキュリティの設定を保存しました。"))
        return redirect("relay:security-policy")
    members = (
        Membership.objects.filter(agency=agency, user__is_active=True)
        .select_related("user", "agency")
        .order_by("role", "user__username")
    )
    staff_rows = [
        {
            "username": m.user.get_username(),
            "role": m.get_role_display(),
            "required": two_factor_required(m.user),
            "enrolled": has_second_factor(m.user),
        }
        for m in members
    ]
    return render(
        request, "relay/supervisor/security.html", {"form": form, "staff_rows": staff_rows}
    )
