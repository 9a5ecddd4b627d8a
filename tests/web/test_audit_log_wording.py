"""The audit log names what an event is about as people do (引き継ぎ #12), not as code does."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_audit_log_names_objects_in_words(net, login, sent) -> None:
    _sheet, hop = sent
    body = login(net.supervisor).get(reverse("relay:audit-log")).content.decode()
    assert f"引き継ぎ #{hop.pk}" in body
    assert f"handoff:{hop.pk}" not in body
    client = login(net.supervisor)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert f"Handoff #{hop.pk}" in client.get(reverse("relay:audit-log")).content.decode()


def test_refusals_and_unknown_objects_are_named_in_words_too() -> None:
    """A refusal names its object by the URL's id (`record_id` -> record) or by the screen's
    name: both show in words, 「同意記録 #5」 and 「その他」, never as record or sheet_list."""
    from django.utils import translation

    from relay.views.templatetags.tsunagu import object_label

    with translation.override("ja"):
        assert object_label("record", 5) == "同意記録 #5"
        assert object_label("attachment", 3) == "添付資料 #3"
        assert object_label("sheet_list", None) == "その他"
        assert object_label("", None) == ""
    with translation.override("en"):
        assert object_label("record", 5) == "Consent record #5"
