"""The partner story with a client generated from Tsunagu's OpenAPI schema.

Generate the client (openapi-python-client, from PyPI), then run this with it on the path:

    openapi-python-client generate --url "$TSUNAGU_URL/api/schema/?format=json" \\
        --meta none --output-path ./tsunagu_client --config tools/openapi/client-config.yaml
    TSUNAGU_URL=https://tsunagu.example.jp TSUNAGU_API_KEY=tsk_... \\
        python examples/generated_client.py --relay-to <agency slug> --webhook-url https://...

It reads the inbox, a hop's detail, acknowledges it with If-Match and an Idempotency-Key
(and shows that a retry with the same key is answered from the first response), accepts and
completes it, declines another, relays the first hop's sheet onward, reads the sheet and the
directory, sets, tests and rotates the webhook endpoint, and shows that a bad key gets a typed
401 problem. Each step prints one line; any unexpected answer stops it with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from http import HTTPStatus
from typing import Any

from tsunagu_client import AuthenticatedClient
from tsunagu_client.api.agencies import agencies_list, agencies_retrieve
from tsunagu_client.api.handoffs import (
    handoffs_accept,
    handoffs_acknowledge,
    handoffs_complete,
    handoffs_create,
    handoffs_decline,
    handoffs_list,
    handoffs_retrieve,
)
from tsunagu_client.api.sheets import sheets_retrieve
from tsunagu_client.api.webhook import webhook_rotate_secret, webhook_test, webhook_update
from tsunagu_client.api.whoami import whoami
from tsunagu_client.models import (
    Complete,
    Decline,
    DeclineReasonEnum,
    HandoffCreate,
    Note,
    OutcomeEnum,
    Problem,
    PurposeEnum,
    SectionsEnum,
    WebhookUrl,
)


class StoryError(Exception):
    """An answer the story did not expect."""


def expect(response: Any, status: HTTPStatus, step: str) -> Any:
    if response.status_code != status:
        detail = response.parsed.detail if isinstance(response.parsed, Problem) else ""
        raise StoryError(f"{step}: HTTP {int(response.status_code)} {detail}")
    return response.parsed


def story(client: AuthenticatedClient, bad: AuthenticatedClient, args: Any) -> None:
    refused = whoami.sync_detailed(client=bad)
    problem = expect(refused, HTTPStatus.UNAUTHORIZED, "whoami with a bad key")
    if not isinstance(problem, Problem):
        raise StoryError("whoami with a bad key: not a typed problem")
    print(f"whoami with a bad key: {problem.status} {problem.type_}")
    me = expect(whoami.sync_detailed(client=client), HTTPStatus.OK, "whoami")
    print(f"whoami: {me.kind} of {me.agency.slug}")

    inbox = expect(handoffs_list.sync_detailed(client=client), HTTPStatus.OK, "inbox")
    waiting = [hop for hop in inbox.results if hop.status.value == "sent"]
    if len(waiting) < 2:
        raise StoryError("the story needs two hops waiting in the inbox")
    first, second = waiting[0], waiting[1]
    print(f"inbox: {len(inbox.results)} hops")

    detail = handoffs_retrieve.sync_detailed(first.id, client=client)
    hop = expect(detail, HTTPStatus.OK, "detail")
    etag = detail.headers["ETag"]
    print(f"detail {hop.id}: sections {sorted(hop.content.to_dict())}")

    key = str(uuid.uuid4())
    acknowledged = handoffs_acknowledge.sync_detailed(
        first.id, client=client, body=Note(note=""), if_match=etag, idempotency_key=key
    )
    expect(acknowledged, HTTPStatus.OK, "acknowledge")
    retried = handoffs_acknowledge.sync_detailed(
        first.id, client=client, body=Note(note=""), if_match=etag, idempotency_key=key
    )
    expect(retried, HTTPStatus.OK, "acknowledge again (same Idempotency-Key)")
    print(f"acknowledge {first.id}: replayed={retried.headers.get('Idempotent-Replayed')}")

    accepted = expect(
        handoffs_accept.sync_detailed(
            first.id, client=client, body=Note(), if_match=acknowledged.headers["ETag"]
        ),
        HTTPStatus.OK,
        "accept",
    )
    print(f"accept {first.id}: {accepted.status.value}")
    completed = expect(
        handoffs_complete.sync_detailed(
            first.id, client=client, body=Complete(outcome=OutcomeEnum.SUPPORT_STARTED)
        ),
        HTTPStatus.OK,
        "complete",
    )
    print(f"complete {first.id}: {completed.status.value} {completed.outcome.value}")
    declined = expect(
        handoffs_decline.sync_detailed(
            second.id,
            client=client,
            body=Decline(reason=DeclineReasonEnum.NO_CAPACITY),
            idempotency_key=str(uuid.uuid4()),
        ),
        HTTPStatus.OK,
        "decline",
    )
    print(f"decline {second.id}: {declined.status.value} {declined.decline_reason.value}")

    relay = handoffs_create.sync_detailed(
        client=client,
        body=HandoffCreate(
            sheet=first.sheet,
            to_agency=args.relay_to,
            sections=[SectionsEnum.BASIC],
            purpose=PurposeEnum.SUPPORT,
            message="",
        ),
        idempotency_key=str(uuid.uuid4()),
    )
    child = expect(relay, HTTPStatus.CREATED, "relay")
    print(f"relay {first.sheet} -> {args.relay_to}: hop {child.id} {child.status.value}")

    sheet = expect(
        sheets_retrieve.sync_detailed(first.sheet, client=client), HTTPStatus.OK, "sheet"
    )
    print(f"sheet {sheet.id}: sections {[s.value for s in sheet.sections]}")

    agencies = expect(
        agencies_list.sync_detailed(client=client, page_size=5), HTTPStatus.OK, "directory"
    )
    one = expect(
        agencies_retrieve.sync_detailed(agencies.results[0].slug, client=client),
        HTTPStatus.OK,
        "agency",
    )
    print(f"directory: {len(agencies.results)} agencies, first {one.slug}")

    endpoint = webhook_update.sync_detailed(client=client, body=WebhookUrl(url=args.webhook_url))
    if endpoint.status_code not in (HTTPStatus.OK, HTTPStatus.CREATED):
        expect(endpoint, HTTPStatus.OK, "webhook set")
    print(f"webhook set: {endpoint.parsed.state.value}")
    tested = expect(webhook_test.sync_detailed(client=client), HTTPStatus.ACCEPTED, "webhook test")
    print(f"webhook test: {tested.webhook_id}")
    rotated = expect(
        webhook_rotate_secret.sync_detailed(client=client), HTTPStatus.OK, "webhook rotate"
    )
    print(f"webhook rotate: rotating={rotated.rotating}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay-to", required=True, help="slug of the agency to relay to")
    parser.add_argument("--webhook-url", required=True, help="your webhook endpoint")
    args = parser.parse_args()
    base_url = os.environ["TSUNAGU_URL"]
    client = AuthenticatedClient(
        base_url=base_url, token=os.environ["TSUNAGU_API_KEY"], raise_on_unexpected_status=True
    )
    bad_key = "tsk_" + "not-a-key"  # a key Tsunagu never issued: whoami answers 401
    bad = AuthenticatedClient(base_url=base_url, token=bad_key, raise_on_unexpected_status=True)
    try:
        story(client, bad, args)
    except StoryError as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
