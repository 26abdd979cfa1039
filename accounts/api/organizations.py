"""Organizations: list the caller's, read one, rename one."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.access import org_access
from accounts.api.authentication import ManagementPrincipal
from accounts.api.fields import PicoAsUSDField
from accounts.selectors import memberships_of


class OrganizationOutputSerializer(serializers.Serializer):
    """Read from the caller's membership (or a management key's stand-in for one)."""

    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    role = serializers.CharField(help_text="The caller's role; a management key acts as admin.")
    credit_balance_usd = PicoAsUSDField(source="organization.credit_balance_pico")
    credit_balance_pico = serializers.IntegerField(source="organization.credit_balance_pico")

    class Meta:
        ref_name = "Organization"


class OrganizationListApi(APIView):
    @extend_schema(
        operation_id="orgs_list",
        summary="Organizations you belong to (a management key: its own).",
        responses=OrganizationOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        if isinstance(request.user, ManagementPrincipal):
            rows = [services.KeyActing(organization=request.user.organization)]
        else:
            rows = memberships_of(user=request.user)
        return Response(OrganizationOutputSerializer(rows, many=True).data)


# GET and PATCH share a URL, so they share a view; each method is one operation.
class OrganizationDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

        class Meta:
            ref_name = "OrganizationRename"

    @extend_schema(operation_id="orgs_retrieve", responses=OrganizationOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        return Response(OrganizationOutputSerializer(access.acting).data)

    @extend_schema(
        operation_id="orgs_rename",
        summary="Rename the organization (admins and owners).",
        request=InputSerializer,
        responses=OrganizationOutputSerializer,
    )
    def patch(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.organization_rename(membership=access.acting, **serializer.validated_data)
        return Response(OrganizationOutputSerializer(access.acting).data)
