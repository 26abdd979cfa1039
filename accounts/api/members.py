"""Members and invitations of an organization."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.access import org_access
from accounts.models import Role
from accounts.selectors import member_get, members_of


class MemberOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Member"


class MemberListApi(APIView):
    @extend_schema(operation_id="members_list", responses=MemberOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        members = members_of(organization=access.organization)
        return Response(MemberOutputSerializer(members, many=True).data)


class InvitationCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

        class Meta:
            ref_name = "InvitationCreate"

    class OutputSerializer(serializers.Serializer):
        """The link's token is not here: it goes only to the invited address."""

        id = serializers.IntegerField()
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)
        invited_by = serializers.EmailField(source="invited_by.email", allow_null=True)
        created_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField()

        class Meta:
            ref_name = "Invitation"

    @extend_schema(
        operation_id="invitations_create",
        summary="Invite someone by email (admins and owners).",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = services.invitation_create(membership=access.acting, **serializer.validated_data)
        return Response(self.OutputSerializer(new.invitation).data, status=status.HTTP_201_CREATED)


# PATCH and DELETE share a URL, so they share a view; each method is one operation.
class MemberDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices)

        class Meta:
            ref_name = "MemberRoleChange"

    class RemoveInputSerializer(serializers.Serializer):
        keys = serializers.ChoiceField(
            choices=["revoke", "reassign"],
            default="revoke",
            help_text="The keys the member created here: revoked, or reassigned to you "
            "(a management key: to no one). Leaving always revokes them.",
        )

        class Meta:
            ref_name = "MemberRemove"

    @extend_schema(
        operation_id="members_set_role",
        summary="Change a member's role (admins; owners for owners).",
        request=InputSerializer,
        responses=MemberOutputSerializer,
    )
    def patch(self, request: Request, slug: str, member_id: int) -> Response:
        access = org_access(request, slug)
        target = member_get(organization=access.organization, membership_id=member_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = services.membership_set_role(
            acting=access.acting, target=target, **serializer.validated_data
        )
        return Response(MemberOutputSerializer(target).data)

    @extend_schema(
        operation_id="members_remove",
        summary="Remove a member (admins), or leave (yourself); `keys` in the query or the "
        "body says what happens to their keys.",
        parameters=[OpenApiParameter("keys", str, enum=["revoke", "reassign"], default="revoke")],
        request=RemoveInputSerializer,
        responses={204: None},
    )
    def delete(self, request: Request, slug: str, member_id: int) -> Response:
        access = org_access(request, slug)
        target = member_get(organization=access.organization, membership_id=member_id)
        # DELETE bodies are often dropped by clients and proxies: the query works too.
        data = request.data if isinstance(request.data, dict) and request.data else None
        serializer = self.RemoveInputSerializer(data=data or request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        services.membership_remove(
            acting=access.acting, target=target, keys=serializer.validated_data["keys"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
