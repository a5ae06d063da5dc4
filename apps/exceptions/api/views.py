"""Status API views of business exceptions: thin, each calling one selector or service."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api import READ_SCOPE, REPLAY_SCOPE, ApiCursorPagination
from apps.exceptions.api.serializers import (
    BusinessExceptionDetailSerializer,
    BusinessExceptionSerializer,
    ExceptionReplayResultSerializer,
)
from apps.exceptions.filtersets import BusinessExceptionFilterSet
from apps.exceptions.models import BusinessException
from apps.exceptions.selectors import exception_activities, exception_get, exception_list
from apps.pipeline.services import exception_replay

ID = OpenApiParameter("id", int, OpenApiParameter.PATH)
VIEW = ("exceptions.view_businessexception", "exceptions.view_exceptionactivity")
REPLAY = ("exceptions.view_businessexception", "accounts.replay")


class ExceptionCursorPagination(ApiCursorPagination):
    # Newest first by id (opening order), as the console's keyset pages: the primary key
    # serves every page; no btree covers opened_at alone.
    ordering = ("-id",)


class ExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Business exceptions: coded, owned, SLA-clocked work items."""

    permission_required = VIEW
    required_scope = READ_SCOPE  # the replay action asks for REPLAY_SCOPE
    throttle_scope = "api_read"
    serializer_class = BusinessExceptionSerializer
    filterset_class = BusinessExceptionFilterSet
    pagination_class = ExceptionCursorPagination
    lookup_value_regex = r"\d{1,18}"
    queryset = BusinessException.objects.none()  # for the schema; get_queryset answers requests

    def get_queryset(self):
        return exception_list()

    @extend_schema(
        summary="List business exceptions, newest first",
        description="All statuses unless `status` is given (the console shows `active`: open "
        "or in progress).",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One business exception with its activity",
        parameters=[ID],
        responses=BusinessExceptionDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        try:
            item = exception_get(exception_id=int(pk))
        except BusinessException.DoesNotExist:
            raise exceptions.NotFound("No such exception.") from None
        item.activity_rows = exception_activities(exception_id=item.pk)
        return Response(
            BusinessExceptionDetailSerializer(item, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="Replay the transaction behind an open exception",
        description="The exception resolves when the replay succeeds. Needs the `replay` scope "
        "and the replay permission; 409 with EXCEPTION_CLOSED, REPLAY_NOT_ALLOWED or "
        "ACTION_NOT_ALLOWED when it cannot be replayed now.",
        parameters=[ID],
        request=None,
        responses={status.HTTP_202_ACCEPTED: ExceptionReplayResultSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_required=REPLAY,
        required_scope=REPLAY_SCOPE,
        throttle_scope="api_replay",
    )
    def replay(self, request, pk=None):
        try:
            tx = exception_replay(exception_id=int(pk), actor=request.user)
        except BusinessException.DoesNotExist:
            raise exceptions.NotFound("No such exception.") from None
        result = {
            "exception": int(pk),
            "transaction": tx.pk,
            "status": tx.status,
            "message": "Queued for replay; the exception resolves when the replay succeeds.",
        }
        return Response(
            ExceptionReplayResultSerializer(result).data, status=status.HTTP_202_ACCEPTED
        )
