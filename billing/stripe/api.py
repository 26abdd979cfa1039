"""The management API's top-up: POST /api/orgs/{slug}/topups/ {"amount_usd"} ->
{"checkout_url"} (CONTRACT.md); 409 when Stripe is off."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import org_access
from accounts.errors import NotAllowed
from billing.stripe import StripeOff, enabled
from billing.stripe.topups import topup_amount_pico, topup_start


class TopUpCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        amount_usd = serializers.CharField(
            max_length=40, help_text='USD to the cent, from 1 to 10000, e.g. "20.00".'
        )

        class Meta:
            ref_name = "TopUpCreate"

    class OutputSerializer(serializers.Serializer):
        checkout_url = serializers.URLField(help_text="Send the buyer here to pay.")

        class Meta:
            ref_name = "TopUp"

    @extend_schema(
        operation_id="topups_create",
        summary="Start a Stripe Checkout top-up; credit arrives when Stripe says it is paid "
        "(409 when Stripe is not configured).",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        access = org_access(request, slug)
        if not access.acting.can_manage:
            raise NotAllowed("Only the organization's owners and admins can buy credit.")
        if not enabled():
            raise StripeOff()
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        amount_pico = topup_amount_pico(serializer.validated_data["amount_usd"])
        url = topup_start(
            organization=access.organization,
            amount_pico=amount_pico,
            actor=access.acting.user,
            portal_url=request.build_absolute_uri(f"/o/{access.organization.slug}/billing/"),
        )
        return Response({"checkout_url": url}, status=status.HTTP_201_CREATED)
