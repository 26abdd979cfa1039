from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import DomainError, FieldError


def exception_handler(exc, context):
    """Domain errors become `{"detail", "code"}` with their own status, like DRF's own; a
    refused field is `{field: [message]}`, the shape of a serializer's field errors."""
    if isinstance(exc, FieldError):
        return Response({exc.field: [exc.message]}, status=exc.status)
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    return drf_exception_handler(exc, context)
