"""Test-only endpoints exercising the API plumbing, mounted beside the real URL map.

Used with @pytest.mark.urls("tests.api.urls").
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from django.db import OperationalError
from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.models import Agency, Category
from api.etag import check_if_match, etag_for
from api.idempotency import IdempotencyMixin
from api.permissions import HasScope
from api.problems import register_problem
from tsunagu.urls import urlpatterns as project_urlpatterns


class ConsentNotCovering(Exception):
    """Stands in for a workflow error (relay/errors.py), which does not import the API."""


class SectionNotShared(ConsentNotCovering):
    """A subclass inherits its parent's registration; it speaks both languages."""

    def detail_for(self, language: str) -> str:
        return "Section not shared." if language == "en" else "この項目は共有されていません。"


register_problem(
    ConsentNotCovering,
    type_slug="consent-not-covering",
    status=409,
    title_ja="同意の範囲外です",
    title_en="Not covered by consent",
)


class ScopedView(APIView):
    permission_classes = [HasScope]
    required_scopes = {"GET": "handoffs:read", "POST": "handoffs:write", "DELETE": None}

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"ok": True}, status=status.HTTP_201_CREATED)

    def delete(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)

    def put(self, request: Request) -> Response:  # not in required_scopes: refused to keys
        return Response({"ok": True})


class PersonSerializer(serializers.Serializer):
    age = serializers.IntegerField(min_value=0, max_value=120)


class SheetInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=10)
    sections = serializers.ListField(child=serializers.ChoiceField(choices=["school", "home"]))
    person = PersonSerializer()
    contacts = PersonSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["title"] == "reject":
            raise ValidationError("the sheet as a whole is refused", code="refused")
        return attrs


class ValidatingView(APIView):
    def post(self, request: Request) -> Response:
        serializer = SheetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class MissingAgencyView(APIView):
    def get(self, request: Request) -> Response:
        get_object_or_404(Agency, slug="no-such-agency")
        return Response({})


class BrokenView(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("internal detail: password=hunter2")


class DatabaseDownView(APIView):
    """Meets a database that is down, as a view would (psycopg's error, wrapped by Django)."""

    def get(self, request: Request) -> Response:
        raise OperationalError("connection to server at 10.0.0.5 failed: Connection refused")


class DomainErrorView(APIView):
    def get(self, request: Request) -> Response:
        if request.query_params.get("which") == "sub":
            raise SectionNotShared()
        raise ConsentNotCovering("handoff 12 shares sections outside consent 7")


class CreateCategoryView(IdempotencyMixin, APIView):
    """Creates a row per call: proves a replay does not act twice."""

    def post(self, request: Request) -> Response:
        code = request.data.get("code", "")
        if Category.objects.filter(code=code).exists():
            raise ValidationError({"code": ["exists"]})
        Category.objects.create(code=code, label_ja=code, label_en=code)
        if request.data.get("explode"):
            raise RuntimeError("after the write")
        return Response(
            {"code": code, "rows": Category.objects.filter(code=code).count()},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/categories/{code}/", "ETag": '"c-1"'},
        )


# For the concurrency test: the first request waits inside the view until released.
slow_view_entered = threading.Event()
slow_view_release = threading.Event()


class SlowCreateView(IdempotencyMixin, APIView):
    def post(self, request: Request) -> Response:
        slow_view_entered.set()
        slow_view_release.wait(timeout=30)
        Category.objects.create(code="slow", label_ja="slow", label_en="slow")
        return Response({"done": True}, status=status.HTTP_201_CREATED)


VERSIONED = SimpleNamespace(pk=7, version=3)


class VersionedView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"version": VERSIONED.version}, headers={"ETag": etag_for(VERSIONED)})

    def put(self, request: Request) -> Response:
        check_if_match(request, VERSIONED, required=request.query_params.get("strict") == "1")
        return Response({"version": VERSIONED.version})


urlpatterns = [
    path("api/test/scoped/", ScopedView.as_view()),
    path("api/test/validate/", ValidatingView.as_view()),
    path("api/test/missing/", MissingAgencyView.as_view()),
    path("api/test/broken/", BrokenView.as_view()),
    path("api/test/database-down/", DatabaseDownView.as_view()),
    path("api/test/domain-error/", DomainErrorView.as_view()),
    path("api/test/categories/", CreateCategoryView.as_view()),
    path("api/test/slow/", SlowCreateView.as_view()),
    path("api/test/versioned/", VersionedView.as_view()),
    *project_urlpatterns,
]
