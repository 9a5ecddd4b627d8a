"""The OpenAPI schema documents the API; the docs page works offline (assets from sidecar)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_describes_whoami_and_bearer_keys(api_client) -> None:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/whoami/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert {"apiKey": []} in schema["paths"]["/api/v1/whoami/"]["get"]["security"]


def test_schema_generates_without_warnings(tmp_path) -> None:
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert "whoami" in (tmp_path / "schema.yaml").read_text()


def test_docs_page_loads_swagger_ui_from_our_own_static_files(api_client) -> None:
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page


@pytest.mark.urls("tests.api.urls")
def test_idempotent_posts_document_the_idempotency_key_header(api_client) -> None:
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    post = paths["/api/test/categories/"]["post"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= post["parameters"][0].items()
    scoped = paths["/api/test/scoped/"]["post"]
    assert not any(p["name"] == "Idempotency-Key" for p in scoped.get("parameters", []))


def test_the_schema_is_the_same_bytes_whatever_the_language(api_client) -> None:
    """GIVEN the compiled Japanese and English catalogs WHEN the schema is fetched in either
    language (header or ?lang=) THEN the documents are byte-identical: regenerating a client
    never renames a class."""
    bodies = {
        api_client.get("/api/schema/", HTTP_ACCEPT_LANGUAGE=language).content
        for language in ("ja", "en", "ja-JP,ja;q=0.9", "")
    }
    bodies.add(api_client.get("/api/schema/?lang=ja").content)
    assert len(bodies) == 1
    text = bodies.pop().decode()
    assert "KindEnum" in text
    # Labels are written in English (examples may quote Japanese data, labels never do).
    assert "* `school` - School" in text
    assert "種別" not in text and "学校" not in text


def _schema(api_client) -> dict:
    return api_client.get("/api/schema/?format=json").json()


def test_servers_come_from_site_url(api_client, settings) -> None:
    assert _schema(api_client)["servers"][0]["url"] == settings.SITE_URL


def test_every_operation_declares_its_problems_as_problem_json(api_client) -> None:
    """Each operation declares 401, 429 and 503 (any call can get them) as problem+json,
    reads add 404, writes add 400/409/415/422, actions 412; whoami's 401 is typed."""
    paths = _schema(api_client)["paths"]
    operations = {
        op["operationId"]: op for item in paths.values() for op in item.values() if "responses" in op
    }
    assert len(operations) >= 15
    for name, op in operations.items():
        for status in ("401", "406", "429", "503"):
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (name, status)
            assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
        assert "Retry-After" in op["responses"]["429"]["headers"], name
    for name in ("handoffs_acknowledge", "handoffs_accept", "handoffs_decline"):
        assert {"400", "404", "409", "412", "415", "422"} <= set(operations[name]["responses"])
        assert "Idempotent-Replayed" in operations[name]["responses"]["200"]["headers"]
        assert "ETag" in operations[name]["responses"]["200"]["headers"]
    assert "Location" in operations["handoffs_create"]["responses"]["201"]["headers"]
    assert "Location" in operations["webhook_update"]["responses"]["201"]["headers"]
    for name in ("handoffs_retrieve", "sheets_retrieve"):
        assert {"200", "304"} <= set(operations[name]["responses"])
        assert "ETag" in operations[name]["responses"]["304"]["headers"]


def test_response_fields_the_server_always_writes_are_required(api_client) -> None:
    components = _schema(api_client)["components"]["schemas"]
    handoff = components["Handoff"]
    assert set(handoff["required"]) == set(handoff["properties"])
    assert {"status", "version", "created_at", "updated_at"} <= set(handoff["required"])
    decline_reason = handoff["properties"]["decline_reason"]
    assert decline_reason["nullable"] is True and decline_reason["type"] == "string"
    problem = components["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    # A section the reader may not see is absent, so none is required.
    assert "required" not in components["SheetContent"]
    who = components["WhoAmI"]["properties"]
    # A nullable object is "the object or null" (api.schema.postprocess_nullable_types), so
    # that generated clients accept the null.
    agency, null = who["agency"]["oneOf"]
    assert agency == {"$ref": "#/components/schemas/AgencyRef"}
    assert null == {"type": "object", "nullable": True, "enum": [None]}
    service, _null = components["Handoff"]["properties"]["service"]["oneOf"]
    assert service == {"$ref": "#/components/schemas/ServiceRef"}


def test_every_operation_tag_is_described_and_every_example_fits(api_client) -> None:
    """Partners read the schema grouped by tag: an operation's tag must be one of the
    described ones (a new group of endpoints needs its description), and a list response's
    example is the list of documents, not a list of lists (the linters in CI check both)."""
    schema = api_client.get("/api/schema/?format=json").json()
    described = {tag["name"] for tag in schema["tags"]}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            assert set(operation.get("tags", [])) <= described, (method, path)
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    if media.get("schema", {}).get("type") != "array":
                        continue
                    for example in media.get("examples", {}).values():
                        value = example["value"]
                        assert all(isinstance(row, dict) for row in value), (method, path)
