"""API keys of an organization. A secret appears in exactly two responses: the key's
creation and its rotation; nothing else returns it, and nothing returns the digest."""

from datetime import timedelta

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import key_services, limits, model_catalog
from accounts.api.access import org_access
from accounts.api.fields import MicrosPerMillionAsUSDField, PicoAsUSDField
from accounts.errors import FieldError
from accounts.models import BudgetPeriod
from accounts.money import MAX_USD, usd_to_pico
from accounts.selectors import api_key_get, api_keys_of

MAX_GRACE_SECONDS = 30 * 24 * 3600  # the services' limit: 30 days


class KeyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The visible start of the secret.")
    created_by = serializers.EmailField(source="created_by.email", allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(
        allow_null=True, help_text="May lie in the future: a rotated key's grace period."
    )
    paused_at = serializers.DateTimeField(
        allow_null=True, help_text="Set by a spend spike; an admin resumes the key."
    )
    status = serializers.ChoiceField(choices=["active", "paused", "revoking", "revoked", "expired"])
    is_management = serializers.BooleanField()
    allowed_models = serializers.ListField(child=serializers.CharField())
    rpm_limit = serializers.IntegerField(allow_null=True)
    tpm_limit = serializers.IntegerField(allow_null=True)
    budget_usd = PicoAsUSDField(source="budget_pico", allow_null=True)
    budget_pico = serializers.IntegerField(allow_null=True)
    budget_period = serializers.ChoiceField(
        choices=BudgetPeriod.choices,
        help_text="When the budget starts again: never (total), 00:00 UTC, Monday, the 1st.",
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(), help_text="CIDRs the key may be used from; empty: any."
    )
    max_price_usd = MicrosPerMillionAsUSDField(
        source="max_price_micros",
        allow_null=True,
        help_text="Price ceiling, USD per million tokens: models priced above it are refused.",
    )

    class Meta:
        ref_name = "Key"


def _checked(check, value):
    """accounts.limits' verdict as a serializer field error, so every bad field is listed."""
    try:
        return check(value)
    except FieldError as exc:
        raise serializers.ValidationError(exc.message) from None


class KeyLimitsInputSerializer(serializers.Serializer):
    """The limits a key is created with and PATCHed to; null clears one."""

    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        allow_null=True,
        max_length=limits.MAX_MODELS,
    )
    rpm_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=limits.MAX_COUNT
    )
    tpm_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=limits.MAX_COUNT
    )
    budget_usd = serializers.DecimalField(
        max_digits=19,
        decimal_places=12,
        min_value=0,
        max_value=MAX_USD,
        required=False,
        allow_null=True,
    )
    budget_period = serializers.ChoiceField(
        choices=BudgetPeriod.choices, required=False, allow_null=True
    )
    max_price_usd = serializers.DecimalField(
        max_digits=13,
        decimal_places=6,
        min_value=0,
        max_value=1_000_000,
        required=False,
        allow_null=True,
        help_text="USD per million tokens: a model whose input or output price is above it "
        "is refused (403), and the automatic model skips it. Null: no ceiling.",
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        allow_null=True,
        max_length=limits.MAX_CIDRS,
        help_text="IPv4 and IPv6 CIDRs; a bare address is its /32 or /128.",
    )

    def validate_expires_at(self, value):
        return _checked(limits.expiry, value)

    def validate_allowed_ips(self, value):
        return _checked(limits.cidrs, value)

    def validate_allowed_models(self, value):
        """Served models only (once the gateway serves any); a PATCH may keep the names
        the key already has, even one retired since."""
        if value is None:
            return None
        key = self.context.get("key")
        keep = (key.allowed_models or []) if key is not None else []
        org = self.context.get("organization_id")
        return _checked(
            lambda names: model_catalog.check_served(names, keep=keep, organization_id=org),
            value,
        )

    def service_fields(self) -> dict:
        """The validated data as keyword arguments of the key services (USD -> pico-USD)."""
        data = dict(self.validated_data)
        if "budget_usd" in data:
            budget = data.pop("budget_usd")
            data["budget_pico"] = None if budget is None else usd_to_pico(budget)
        if "max_price_usd" in data:
            data["max_price_micros"] = limits.price_micros(data.pop("max_price_usd"))
        return data


class NewKeyOutputSerializer(KeyOutputSerializer):
    secret = serializers.CharField(help_text="Shown this once; store it now.")

    class Meta:
        ref_name = "NewKey"

    @classmethod
    def render(cls, new: key_services.NewKey) -> dict:
        return {**KeyOutputSerializer(new.key).data, "secret": new.secret}


# Listing and creating share a URL, so they share a view; each method is one operation.
class KeyListCreateApi(APIView):
    class InputSerializer(KeyLimitsInputSerializer):
        name = serializers.CharField(max_length=limits.MAX_NAME)
        is_management = serializers.BooleanField(
            default=False, help_text="Admins and owners only: a key for /api/, not /v1."
        )

        class Meta:
            ref_name = "KeyCreate"

    @extend_schema(operation_id="keys_list", responses=KeyOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        keys = api_keys_of(organization=access.organization)
        return Response(KeyOutputSerializer(keys, many=True).data)

    @extend_schema(
        operation_id="keys_create",
        summary="Create a key; the response holds its secret, shown only this once.",
        request=InputSerializer,
        responses={201: NewKeyOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        serializer = self.InputSerializer(
            data=request.data, context={"organization_id": access.organization.pk}
        )
        serializer.is_valid(raise_exception=True)
        new = key_services.api_key_create_as(
            membership=access.acting, **serializer.service_fields()
        )
        return Response(NewKeyOutputSerializer.render(new), status=status.HTTP_201_CREATED)


# GET and PATCH share a URL, so they share a view; each method is one operation.
class KeyDetailApi(APIView):
    class InputSerializer(KeyLimitsInputSerializer):
        name = serializers.CharField(max_length=limits.MAX_NAME, required=False)

        class Meta:
            ref_name = "KeyUpdate"

    @extend_schema(operation_id="keys_retrieve", responses=KeyOutputSerializer)
    def get(self, request: Request, slug: str, key_id: int) -> Response:
        access = org_access(request, slug)
        key = api_key_get(organization=access.organization, key_id=key_id)
        return Response(KeyOutputSerializer(key).data)

    @extend_schema(
        operation_id="keys_update",
        summary="Change a key's name and limits; only the fields sent change, null clears "
        "a limit (members: their own keys; admins: any).",
        request=InputSerializer,
        responses=KeyOutputSerializer,
    )
    def patch(self, request: Request, slug: str, key_id: int) -> Response:
        access = org_access(request, slug)
        key = api_key_get(organization=access.organization, key_id=key_id)
        serializer = self.InputSerializer(
            data=request.data, context={"key": key, "organization_id": key.organization_id}
        )
        serializer.is_valid(raise_exception=True)
        key = key_services.api_key_update(
            key=key, acting=access.key_acting, **serializer.service_fields()
        )
        return Response(KeyOutputSerializer(key).data)


class KeyRevokeApi(APIView):
    @extend_schema(
        operation_id="keys_revoke",
        summary="Revoke a key now (members: their own keys; admins: any).",
        request=None,
        responses=KeyOutputSerializer,
    )
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        access = org_access(request, slug)
        key = api_key_get(organization=access.organization, key_id=key_id)
        key = key_services.api_key_revoke(key=key, acting=access.key_acting)
        return Response(KeyOutputSerializer(key).data)


class KeyResumeApi(APIView):
    @extend_schema(
        operation_id="keys_resume",
        summary="Resume a key paused by a spend spike (admins and owners).",
        request=None,
        responses=KeyOutputSerializer,
    )
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        access = org_access(request, slug)
        key = api_key_get(organization=access.organization, key_id=key_id)
        key = key_services.api_key_resume(key=key, acting=access.key_acting)
        return Response(KeyOutputSerializer(key).data)


class KeyRotateApi(APIView):
    class InputSerializer(serializers.Serializer):
        grace_seconds = serializers.IntegerField(
            default=0,
            min_value=0,
            max_value=MAX_GRACE_SECONDS,
            help_text="How long the old secret keeps working.",
        )

        class Meta:
            ref_name = "KeyRotate"

    @extend_schema(
        operation_id="keys_rotate",
        summary="Replace a key with a new secret and the same settings (409 when the key "
        "was already rotated: rotate its successor).",
        request=InputSerializer,
        responses={201: NewKeyOutputSerializer},
    )
    def post(self, request: Request, slug: str, key_id: int) -> Response:
        access = org_access(request, slug)
        key = api_key_get(organization=access.organization, key_id=key_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = key_services.api_key_rotate(
            key=key,
            acting=access.key_acting,
            grace=timedelta(seconds=serializer.validated_data["grace_seconds"]),
        )
        return Response(NewKeyOutputSerializer.render(new), status=status.HTTP_201_CREATED)
