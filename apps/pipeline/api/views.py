"""Status API views of the pipeline: thin, each calling one selector or service."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import READ_SCOPE, REPLAY_SCOPE, ApiCursorPagination
from apps.exceptions.selectors import exception_list
from apps.pipeline.api.selectors import LINEAGE_LIMIT, lineage_events, lineage_transactions
from apps.pipeline.api.serializers import (
    LineageSerializer,
    ReplayResultSerializer,
    TransactionDetailSerializer,
    TransactionSerializer,
)
from apps.pipeline.filtersets import TransactionFilterSet
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import (
    transaction_can_replay,
    transaction_events,
    transaction_get,
    transaction_list,
)
from apps.pipeline.services import transaction_replay

ID = OpenApiParameter("id", int, OpenApiParameter.PATH)
VIEW = ("pipeline.view_transaction",)
VIEW_WITH_EVENTS = (*VIEW, "pipeline.view_transactionevent")
REPLAY = (*VIEW, "accounts.replay")
# Ids are bigints: a longer number cannot exist and must not reach PostgreSQL.
ID_PATTERN = r"\d{1,18}"


def token_allows(request, scope: str) -> bool:
    scopes = getattr(request.auth, "scopes", None)
    return scopes is None or scope in scopes


class TransactionCursorPagination(ApiCursorPagination):
    # Newest first by id, as the console's keyset pages: ids are taken in arrival order, and
    # the primary key serves any page of any list in constant time. (-received_at, -id) would
    # need a btree on received_at that the store does not have (only BRIN, kept for ingest
    # speed): measured on 1,000,000 rows, 0.5 s a page unfiltered against under 1 ms by id.
    ordering = ("-id",)


class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    """Transactions: every message as received or sent. Raw payloads are never returned."""

    permission_required = VIEW_WITH_EVENTS
    required_scope = READ_SCOPE  # the replay action asks for REPLAY_SCOPE
    throttle_scope = "api_read"
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilterSet
    pagination_class = TransactionCursorPagination
    lookup_value_regex = ID_PATTERN
    queryset = Transaction.objects.none()  # for the schema; get_queryset answers requests

    def get_queryset(self):
        return transaction_list()

    @extend_schema(
        summary="List transactions, newest first",
        description="Filters combine; pages follow `next` (a cursor).",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One transaction with its events (timeline), business keys and exceptions",
        parameters=[ID],
        responses=TransactionDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        try:
            tx = transaction_get(transaction_id=int(pk))
        except Transaction.DoesNotExist:
            raise exceptions.NotFound("No such transaction.") from None
        context = {
            **self.get_serializer_context(),
            "events": transaction_events(transaction_id=tx.pk),
            "exceptions": exception_list().filter(transaction_id=tx.pk),
            "can_replay": token_allows(request, REPLAY_SCOPE)
            and transaction_can_replay(transaction=tx, user=request.user),
        }
        return Response(TransactionDetailSerializer(tx, context=context).data)

    @extend_schema(
        summary="Replay a failed or retrying transaction",
        description="Queues the transaction again from the step that failed. An outbound "
        "posting keeps its idempotency key, so a replay never posts twice. Needs the `replay` "
        "scope and the replay permission; a transaction that cannot be replayed now answers "
        "409 with a code (REPLAY_NOT_ALLOWED, ACTION_NOT_ALLOWED).",
        parameters=[ID],
        request=None,
        responses={status.HTTP_202_ACCEPTED: ReplayResultSerializer},
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
            tx = transaction_replay(transaction_id=int(pk), actor=request.user)
        except Transaction.DoesNotExist:
            raise exceptions.NotFound("No such transaction.") from None
        return Response(
            ReplayResultSerializer(
                {"transaction": tx.pk, "status": tx.status, "message": "Queued for replay."}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


class LineageView(APIView):
    """Every transaction and event of one flow (correlation id), oldest first."""

    permission_required = VIEW_WITH_EVENTS

    @extend_schema(
        summary="Lineage of one flow: its transactions and their events, in time order",
        parameters=[OpenApiParameter("correlation_id", str, OpenApiParameter.PATH)],
        responses=LineageSerializer,
    )
    def get(self, request, correlation_id: str):
        if len(correlation_id) > 64 or "\x00" in correlation_id:
            raise exceptions.NotFound("No transaction has this correlation id.")
        rows = lineage_transactions(correlation_id=correlation_id, limit=LINEAGE_LIMIT + 1)
        if not rows:
            raise exceptions.NotFound("No transaction has this correlation id.")
        truncated, rows = len(rows) > LINEAGE_LIMIT, rows[:LINEAGE_LIMIT]
        data = {
            "correlation_id": correlation_id,
            "transactions": rows,
            "events": lineage_events(transaction_ids=[tx.pk for tx in rows]),
            "truncated": truncated,
        }
        return Response(LineageSerializer(data, context={"request": request}).data)
