"""The audit filter's selects are written in Python (relay.forms.PlainSelect) with the markup
Django's templates give: a supervisor's browser, screen reader and the filter's GET query see
no difference."""

from __future__ import annotations

import pytest
from django import forms
from django.test.html import parse_html

from relay.forms import AuditFilterForm, PlainSelect
from tests.factories import AgencyFactory

CHOICES = [
    ("", "すべて"),
    ("a", "受付 <確認>"),
    ("地域", [("b", "B & C"), ("c", "\"引用\"")]),
]


@pytest.mark.parametrize("value", [None, "", "a", "c"])
def test_plain_select_writes_the_markup_django_s_templates_write(value) -> None:
    attrs = {"id": "id_action", "aria-describedby": "help"}
    django_html = forms.Select(choices=CHOICES).render("action", value, attrs)
    plain_html = PlainSelect(choices=CHOICES).render("action", value, attrs)
    assert parse_html(plain_html) == parse_html(django_html)
    assert "&lt;確認&gt;" in plain_html and "<確認>" not in plain_html


@pytest.mark.django_db
def test_the_audit_filter_renders_its_selects_as_before() -> None:
    AgencyFactory.create_batch(3)
    other = AgencyFactory(name="<他> & 機関")
    data = {"agency": str(other.pk), "action": "handoff.sent"}
    form = AuditFilterForm(data)
    for name in ("agency", "action"):
        field = form[name]
        expected = forms.Select(choices=field.field.choices).render(
            field.html_name, field.value(), {"id": field.auto_id}
        )
        rendered = str(field)
        assert parse_html(rendered) == parse_html(expected)
        assert "selected" in rendered
