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
