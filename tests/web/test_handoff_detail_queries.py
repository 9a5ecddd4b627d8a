"""The hop page's round trips (issue 14): the audited read takes what the API detail takes;
the rest is the signed-in session and what the page shows beyond the API document."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

SAVEPOINTS = re.compile(r"^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) ")

# The web's floor before any hop is read (django.contrib.sessions, django.contrib.auth,
# agencies.models.membership_of and django-otp, each one query): the session row, the user,
# the membership with its agency (and whether it is a routing desk, for the menu), the
# user's TOTP devices and static (backup-code) devices.
SIGNED_IN = 5
# What the page adds to the API document: the timeline (audit events of the hop), the
# agencies named in it, the sending staff member and their membership (whom to call), the
# unread notices in the header, and the onward hops; the sender's page also names its own
# staff in the timeline and notes.
PAGE = {"npo_intake": 6, "counselor": 7}


def _audit_statements() -> int:
    """audit.services.audit_record: one statement locks a chain head, inserts the event and
    moves the head (PostgreSQL); SQLite reads the head, inserts and moves it in three."""
    return 1 if connection.vendor == "postgresql" else 3


@pytest.mark.parametrize("reader", ["npo_intake", "counselor"], ids=["receiver", "sender"])
def test_the_hop_page_reads_the_hop_in_one_query_and_stays_within_its_floor(
    net, login, reader
) -> None:
    """GIVEN a sent hop WHEN either side opens its page THEN after the signed-in session the
    hop, its versions, guardian's permission and the reader's access row come in one
    statement, then the audit append and the notes (as in the API detail), and the page adds
    no more than the fixed set above: nothing grows with the hop."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    client = login(getattr(net, reader))
    url = reverse("relay:handoff-detail", args=[hop.pk])
    client.get(url)  # the first request of a session may write to it

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)

    assert response.status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries if not SAVEPOINTS.match(q["sql"])]
    read = next(i for i, s in enumerate(statements) if "relay_provision" in s)
    assert read <= SIGNED_IN
    assert "relay_handoffgroupobjectpermission" in statements[read]
    assert "relay_sheetaccess" in statements[read]
    notes = read + 1 + _audit_statements()
    assert "audit_chainhead" in statements[read + 1]
    assert "relay_handoffnote" in statements[notes]
    assert len(statements) <= SIGNED_IN + 2 + _audit_statements() + PAGE[reader], statements


def test_another_agency_gets_404_from_the_page(net, login) -> None:
    """GIVEN a hop from the ward to the NPO WHEN the guidance center opens its page THEN 404,
    as for an id that names nothing."""
    sheet = net.sheet()
    net.consent(sheet)
    hop = net.send(sheet)
    client = login(net.guidance_intake)

    assert client.get(reverse("relay:handoff-detail", args=[hop.pk])).status_code == 404
    assert client.get(reverse("relay:handoff-detail", args=[hop.pk + 1000])).status_code == 404
