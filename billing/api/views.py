"""The management API's billing reads (CONTRACT.md): balance, usage, invoices.

Money is an exact decimal string of USD (accounts.money.usd_text); usage comes from the
rollups. A management key reads its own organization; a session, any organization the
user is a member of; anything else is 404."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import org_access
from accounts.api.fields import PicoAsUSDField
from accounts.money import usd_text
from billing.portal import selectors

MAX_USAGE_DAYS = 400


class BalanceApi(APIView):
    class OutputSerializer(serializers.Serializer):
        balance_usd = PicoAsUSDField(source="balance_pico")
        plan = serializers.CharField(source="plan.name")
        period_start = serializers.DateTimeField()
        period_end = serializers.DateTimeField()
        period_spend_usd = PicoAsUSDField(
            source="period_spend_pico", help_text="Spent this period, at list prices."
        )

        class Meta:
            ref_name = "Balance"

    @extend_schema(
        operation_id="billing_balance",
        summary="The credit balance, the plan in force and this period's spend.",
        responses=OutputSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        summary = selectors.billing_summary(organization=access.organization)
        return Response(self.OutputSerializer(summary).data)


class UsageApi(APIView):
    class InputSerializer(serializers.Serializer):
        start = serializers.DateField(
            required=False, input_formats=["%Y-%m-%d"], help_text="First day (UTC), included."
        )
        end = serializers.DateField(
            required=False, input_formats=["%Y-%m-%d"], help_text="Last day (UTC), included."
        )
        group_by = serializers.ChoiceField(choices=selectors.GROUPS, default="day")

        class Meta:
            ref_name = "UsageQuery"

        def validate(self, data):
            today = timezone.now().date()
            data.setdefault("end", today)
            data.setdefault("start", data["end"].replace(day=1))
            if data["end"] < data["start"]:
                raise serializers.ValidationError(
                    {"end": ["The end comes before the start; give an end on or after it."]}
                )
            if data["end"] - data["start"] >= timedelta(days=MAX_USAGE_DAYS):
                raise serializers.ValidationError(
                    {"end": [f"Ask for at most {MAX_USAGE_DAYS} days at a time."]}
                )
            return data

    class RowSerializer(serializers.Serializer):
        requests = serializers.IntegerField()
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        cost_usd = PicoAsUSDField(source="cost_pico")

        class Meta:
            ref_name = "UsageRow"

        def to_representation(self, row):
            return {**row.group, **super().to_representation(row)}

    class OutputSerializer(serializers.Serializer):
        """The response's shape, for the schema."""

        start = serializers.DateField()
        end = serializers.DateField()
        group_by = serializers.CharField()
        data = serializers.ListField(child=serializers.DictField())
        total = serializers.DictField()

        class Meta:
            ref_name = "Usage"

    @extend_schema(
        operation_id="billing_usage",
        summary="Usage per day, model or key over [start, end] (UTC days, both included), "
        "from the rollups; each row has its group's field (day, model, or key_id with "
        "key_name and key_prefix).",
        parameters=[
            OpenApiParameter("start", str, description="YYYY-MM-DD; default the 1st of the month"),
            OpenApiParameter("end", str, description="YYYY-MM-DD; default today"),
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPS), default="day"),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        query = self.InputSerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows, total = selectors.usage_summary(
            organization=access.organization, **query.validated_data
        )
        return Response(
            {
                "start": query.validated_data["start"].isoformat(),
                "end": query.validated_data["end"].isoformat(),
                "group_by": query.validated_data["group_by"],
                "data": self.RowSerializer(rows, many=True).data,
                "total": self.RowSerializer(total).data,
            }
        )


class InvoiceLineOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    model = serializers.CharField()
    quantity = serializers.IntegerField()
    amount_usd = PicoAsUSDField(source="amount_pico")
    covers_period = serializers.CharField()

    class Meta:
        ref_name = "InvoiceLine"


class InvoiceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True, help_text="Set when finalized.")
    period = serializers.CharField(help_text="YYYY-MM, a calendar month in UTC.")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    plan = serializers.CharField()
    status = serializers.CharField()
    total_usd = serializers.SerializerMethodField(help_text="Σ of the lines.")
    paid_from_credit_usd = PicoAsUSDField(source="paid_from_credit_pico")
    amount_due_usd = PicoAsUSDField(source="amount_due_pico")
    check_status = serializers.CharField()
    finalized_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    lines = InvoiceLineOutputSerializer(many=True)

    class Meta:
        ref_name = "Invoice"

    def get_total_usd(self, invoice) -> str:
        # Σ of the lines as listed, so the figure can never disagree with them.
        return usd_text(sum(line.amount_pico for line in invoice.lines.all()))


class InvoiceListApi(APIView):
    @extend_schema(
        operation_id="billing_invoices_list",
        summary="The organization's invoices, newest period first, with their lines.",
        responses=InvoiceOutputSerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        invoices = selectors.invoices_of(organization=access.organization)
        return Response(InvoiceOutputSerializer(invoices, many=True).data)


class InvoiceDetailApi(APIView):
    @extend_schema(operation_id="billing_invoices_retrieve", responses=InvoiceOutputSerializer)
    def get(self, request: Request, slug: str, invoice_id: int) -> Response:
        access = org_access(request, slug)
        invoice = selectors.invoice_get(organization=access.organization, invoice_id=invoice_id)
        return Response(InvoiceOutputSerializer(invoice).data)
