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
