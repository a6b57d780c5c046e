"""``PUT, DELETE .../tags/{key}`` of a group or a version: one tag at a time, so
writers of different keys never overwrite each other's change."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services


class TagSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    value = serializers.CharField()


def _value(request: Request) -> Any:
    """The body's ``value``, unchecked: the service checks the role, then the value."""
    return request.data.get("value") if isinstance(request.data, dict) else None


class GroupTagView(APIView):
    """One tag of a model group."""

    @extend_schema(request=TagSerializer, responses={200: TagSerializer})
    def put(self, request: Request, group_name: str, key: str) -> Response:
        group = services.group_tag_set(
            actor=request.user,
            group=selectors.group_get(group_name),
            key=key,
            value=_value(request),
        )
        return Response({"key": key, "value": group.tags[key]})

    @extend_schema(responses={204: None})
    def delete(self, request: Request, group_name: str, key: str) -> Response:
        group = selectors.group_get(group_name)
        services.group_tag_delete(actor=request.user, group=group, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionTagView(APIView):
    """One tag of a model version."""

    @extend_schema(request=TagSerializer, responses={200: TagSerializer})
    def put(
        self, request: Request, group_name: str, version: str, key: str
    ) -> Response:
        found = selectors.version_get(group_name, int(version))
        updated = services.version_tag_set(
            actor=request.user, version=found, key=key, value=_value(request)
        )
        return Response({"key": key, "value": updated.tags[key]})

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, group_name: str, version: str, key: str
    ) -> Response:
        found = selectors.version_get(group_name, int(version))
        services.version_tag_delete(actor=request.user, version=found, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
