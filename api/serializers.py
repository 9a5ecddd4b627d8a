"""Serializers of the API's own resources (the workflow's live with their endpoints)."""

from __future__ import annotations

from rest_framework import serializers


class AgencyRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ServiceRefSerializer(serializers.Serializer):
    """A program of an agency, as a hop names it (the receiver's program it asks for)."""

    id = serializers.IntegerField()
    slug = serializers.SlugField()
    name = serializers.CharField()


class APIKeyRefSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class WhoAmISerializer(serializers.Serializer):
    """Who the API sees: the agency, the kind of principal and what it may do."""

    # A pattern, not an enum: an enum component named "Kind" would collide with the agency's.
    kind = serializers.RegexField(
        r"^(api_client|user)$", help_text="api_client (an API key) or user (a session)."
    )
    agency = AgencyRefSerializer(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())
    key = APIKeyRefSerializer(allow_null=True, help_text="The API key, for api_client only.")
    role = serializers.CharField(allow_null=True, help_text="The staff role, for user only.")
