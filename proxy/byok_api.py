"""The management API of an organization's own providers and models (CONTRACT.md
`/api/orgs/{slug}/providers/` and `/api/orgs/{slug}/models/`): proxy.byok does the work.

A provider's `api_key` is write-only: no answer carries it, or any part of it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import org_access
from accounts.api.fields import MicrosPerMillionAsUSDField
from proxy import byok
from proxy.translate.providers import KINDS


class ProviderOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    base_url = serializers.CharField()
    timeout_s = serializers.FloatField()
    has_api_key = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Provider"

    def get_has_api_key(self, provider) -> bool:
        return bool(provider.api_key_encrypted)


class ProviderListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=sorted(KINDS))
        base_url = serializers.CharField(max_length=500)
        api_key = serializers.CharField(
            max_length=byok.MAX_KEY_CHARS,
            required=False,
            allow_blank=True,
            write_only=True,
            trim_whitespace=True,
            help_text="Stored encrypted and never returned. Empty for a server needing none.",
        )
        timeout_s = serializers.FloatField(
            required=False, default=600.0, min_value=0.1, max_value=3600
        )

        class Meta:
            ref_name = "ProviderCreate"

    @extend_schema(operation_id="providers_list", responses=ProviderOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        providers = byok.providers_of(organization=access.organization)
        return Response(ProviderOutputSerializer(providers, many=True).data)

    @extend_schema(
        operation_id="providers_create",
        summary="Add the organization's own provider (owners and admins); its key is stored "
        "encrypted and never shown again.",
        request=InputSerializer,
        responses={201: ProviderOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = byok.provider_add(acting=access.acting, **serializer.validated_data)
        return Response(ProviderOutputSerializer(provider).data, status=status.HTTP_201_CREATED)


class ProviderDetailApi(APIView):
    class UpdateSerializer(serializers.Serializer):
        base_url = serializers.CharField(max_length=500, required=False)
        api_key = serializers.CharField(
            max_length=byok.MAX_KEY_CHARS,
            required=False,
            allow_blank=True,
            write_only=True,
            help_text="The new key, stored encrypted and never returned; the old one is gone.",
        )
        timeout_s = serializers.FloatField(required=False, min_value=0.1, max_value=3600)

        class Meta:
            ref_name = "ProviderUpdate"

    @extend_schema(operation_id="providers_retrieve", responses=ProviderOutputSerializer)
    def get(self, request: Request, slug: str, name: str) -> Response:
        access = org_access(request, slug)
        provider = byok.provider_get(organization=access.organization, name=name)
        return Response(ProviderOutputSerializer(provider).data)

    @extend_schema(
        operation_id="providers_update",
        summary="Change a provider's base URL, key or timeout (owners and admins); only the "
        "fields sent change, and its models keep being served.",
        request=UpdateSerializer,
        responses=ProviderOutputSerializer,
    )
    def patch(self, request: Request, slug: str, name: str) -> Response:
        access = org_access(request, slug)
        serializer = self.UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = byok.provider_update(
            acting=access.acting, name=name, **serializer.validated_data
        )
        return Response(ProviderOutputSerializer(provider).data)

    @extend_schema(
        operation_id="providers_destroy",
        summary="Remove a provider (owners and admins); refused while a model uses it.",
        responses={204: None},
    )
    def delete(self, request: Request, slug: str, name: str) -> Response:
        access = org_access(request, slug)
        byok.provider_remove(acting=access.acting, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeploymentSerializer(serializers.Serializer):
    provider = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=200)

    class Meta:
        ref_name = "OwnModelDeployment"


class ModelOutputSerializer(serializers.Serializer):
    name = serializers.CharField(source="route.name")
    deployments = serializers.SerializerMethodField()
    byok = serializers.BooleanField(
        help_text="Served by the organization's own providers: the organization is charged "
        "BYOK_FEE_PERCENT of the cost at these prices."
    )
    input_price_usd = MicrosPerMillionAsUSDField(source="route.input_price")
    output_price_usd = MicrosPerMillionAsUSDField(source="route.output_price")
    context_window = serializers.IntegerField(source="route.context_window", allow_null=True)
    max_output_tokens = serializers.IntegerField(source="route.max_output_tokens", allow_null=True)

    class Meta:
        ref_name = "OwnModel"

    def get_deployments(self, model) -> list[dict]:
        return [{"provider": d.provider.name, "model": d.upstream_model} for d in model.deployments]


def _micros(usd_per_million) -> int | None:
    """An exact Decimal of at most 6 places (the field's) as micro-USD per million tokens."""
    return None if usd_per_million is None else int(usd_per_million * 10**6)


def _price_field(kind: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=13,
        decimal_places=6,
        min_value=0,
        max_value=1_000_000,
        required=False,
        allow_null=True,
        help_text=f"USD per million {kind} tokens (own providers only; default 0).",
    )


class ModelListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        deployments = DeploymentSerializer(many=True, allow_empty=False)
        input_price_usd = _price_field("input")
        output_price_usd = _price_field("output")
        context_window = serializers.IntegerField(min_value=1, required=False, allow_null=True)
        max_output_tokens = serializers.IntegerField(min_value=1, required=False, allow_null=True)

        class Meta:
            ref_name = "OwnModelCreate"

    @extend_schema(operation_id="own_models_list", responses=ModelOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        models = byok.models_of(organization=access.organization)
        return Response(ModelOutputSerializer(models, many=True).data)

    @extend_schema(
        operation_id="own_models_create",
        summary="Define a model served to this organization alone, over its own providers "
        "or the platform's (owners and admins).",
        request=InputSerializer,
        responses={201: ModelOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = byok.model_add(
            acting=access.acting,
            name=data["name"],
            deployments=[dict(d) for d in data["deployments"]],
            input_price_micros=_micros(data.get("input_price_usd")),
            output_price_micros=_micros(data.get("output_price_usd")),
            context_window=data.get("context_window"),
            max_output_tokens=data.get("max_output_tokens"),
        )
        return Response(ModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(APIView):
    @extend_schema(operation_id="own_models_retrieve", responses=ModelOutputSerializer)
    def get(self, request: Request, slug: str, name: str) -> Response:
        access = org_access(request, slug)
        model = byok.model_get(organization=access.organization, name=name)
        return Response(ModelOutputSerializer(model).data)

    @extend_schema(
        operation_id="own_models_destroy",
        summary="Remove one of the organization's own models (owners and admins).",
        responses={204: None},
    )
    def delete(self, request: Request, slug: str, name: str) -> Response:
        access = org_access(request, slug)
        byok.model_remove(acting=access.acting, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
