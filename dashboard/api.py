"""The management API's request log (CONTRACT.md `GET /api/orgs/{slug}/requests/`): the
organization's usage records, newest first, by cursor, with the page's filters."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import org_access
from accounts.api.fields import PicoAsUSDField
from dashboard import request_log
from dashboard.request_log import FilterErrors


class RequestLogApi(APIView):
    class RecordSerializer(serializers.Serializer):
        request_id = serializers.CharField()
        created_at = serializers.DateTimeField()
        key_prefix = serializers.SerializerMethodField()
        model = serializers.CharField()
        status = serializers.CharField()
        http_status = serializers.IntegerField()
        code = serializers.CharField()
        streamed = serializers.BooleanField()
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        cost_usd = PicoAsUSDField(source="cost_pico")
        latency_ms = serializers.FloatField()
        ttft_ms = serializers.FloatField(allow_null=True)

        class Meta:
            ref_name = "RequestLogRecord"

        def get_key_prefix(self, record) -> str | None:
            return record.api_key.prefix if record.api_key else None

    class OutputSerializer(serializers.Serializer):
        """The response's shape, for the schema."""

        data = serializers.ListField(child=serializers.DictField())
        older_cursor = serializers.CharField(
            allow_null=True, help_text="Pass as `before` for the next, older page."
        )
        newer_cursor = serializers.CharField(
            allow_null=True, help_text="Pass as `after` for the newer page."
        )

        class Meta:
            ref_name = "RequestLog"

    @extend_schema(
        operation_id="requests_list",
        summary="The request log, newest first, refusals included, a page at a time by "
        "cursor; filters by key, model, status and UTC days.",
        parameters=[
            OpenApiParameter("key", int, description="An API key's id"),
            OpenApiParameter("model", str, description="The model the request named"),
            OpenApiParameter("status", str, enum=list(request_log.STATUSES)),
            OpenApiParameter("start", str, description="YYYY-MM-DD, the first UTC day"),
            OpenApiParameter("end", str, description="YYYY-MM-DD, the last UTC day"),
            OpenApiParameter("before", str, description="older_cursor of a page"),
            OpenApiParameter("after", str, description="newer_cursor of a page"),
            OpenApiParameter(
                "limit",
                int,
                description=f"1 to {request_log.MAX_PAGE_SIZE}, default {request_log.PAGE_SIZE}",
            ),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        params = request.query_params
        try:
            filters = request_log.filters_parse(params)
            before = request_log.cursor_parse(params.get("before", ""), name="before")
            after = request_log.cursor_parse(params.get("after", ""), name="after")
        except FilterErrors as exc:
            raise ValidationError({k: [v] for k, v in exc.errors.items()}) from exc
        if before and after:
            raise ValidationError({"after": ["Give either before or after, not both."]})
        page = request_log.request_log_page(
            organization=access.organization,
            filters=filters,
            before=before,
            after=after,
            size=_limit(params.get("limit", "")),
        )
        return Response(
            {
                "data": self.RecordSerializer(page.records, many=True).data,
                "older_cursor": str(page.older) if page.older else None,
                "newer_cursor": str(page.newer) if page.newer else None,
            }
        )


def _limit(text: str) -> int:
    if not text:
        return request_log.PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= request_log.MAX_PAGE_SIZE:
        raise ValidationError(
            {"limit": [f"limit is a whole number from 1 to {request_log.MAX_PAGE_SIZE}."]}
        )
    return int(text)
