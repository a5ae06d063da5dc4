"""Transactions as the status API shows them: never the raw payload; the canonical document
and event details only to those who may see patient data."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.pipeline.models import Transaction, TransactionEvent, TransactionKey

# An object, or null for those who may not see it.
NULLABLE_OBJECT = {"type": "object", "additionalProperties": {}, "nullable": True}


def may_see_payload(context) -> bool:
    request = context.get("request")
    return bool(request and request.user.has_perm("accounts.view_payload"))


class TransactionSerializer(serializers.ModelSerializer):
    """One row of the transaction list (the fields transaction_list loads, nothing more)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:transaction-detail")
    connector = serializers.CharField(source="connector.slug", read_only=True)
    connector_name = serializers.CharField(source="connector.name", read_only=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "url",
            "connector",
            "connector_name",
            "direction",
            "document_type",
            "document_id",
            "revision",
            "status",
            "correlation_id",
            "attempts",
            "last_error_code",
            "raw_size",
            "received_at",
            "completed_at",
        ]
        read_only_fields = fields


class TransactionEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    detail = serializers.SerializerMethodField(
        help_text="Only for users who may see payloads (it can quote the other side)."
    )

    class Meta:
        model = TransactionEvent
        fields = ["id", "kind", "at", "code", "message", "actor", "detail"]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_OBJECT)
    def get_detail(self, event) -> dict | None:
        return event.detail if may_see_payload(self.context) else None


class TransactionKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = TransactionKey
        fields = ["kind", "value"]
        read_only_fields = fields


class TransactionExceptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(source="code_id")
    status = serializers.CharField()
    summary = serializers.CharField()


class TransactionDetailSerializer(TransactionSerializer):
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    duplicate_of = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    keys = TransactionKeySerializer(many=True, read_only=True)
    events = serializers.SerializerMethodField()
    exceptions = serializers.SerializerMethodField()
    canonical = serializers.SerializerMethodField(
        help_text="The canonical document; null unless you may see payloads."
    )
    can_replay = serializers.SerializerMethodField(
        help_text="Whether this request's user and token may replay it now."
    )

    class Meta(TransactionSerializer.Meta):
        fields = [
            *TransactionSerializer.Meta.fields,
            "format",
            "idempotency_key",
            "content_sha256",
            "parent",
            "duplicate_of",
            "last_error",
            "updated_at",
            "keys",
            "events",
            "exceptions",
            "canonical",
            "can_replay",
        ]
        read_only_fields = fields

    @extend_schema_field(TransactionEventSerializer(many=True))
    def get_events(self, tx):
        return TransactionEventSerializer(
            self.context["events"], many=True, context=self.context
        ).data

    @extend_schema_field(TransactionExceptionSerializer(many=True))
    def get_exceptions(self, tx):
        return TransactionExceptionSerializer(self.context["exceptions"], many=True).data

    @extend_schema_field(NULLABLE_OBJECT)
    def get_canonical(self, tx) -> dict | None:
        return tx.canonical if may_see_payload(self.context) else None

    def get_can_replay(self, tx) -> bool:
        return self.context["can_replay"]


class ReplayResultSerializer(serializers.Serializer):
    transaction = serializers.IntegerField()
    status = serializers.CharField(help_text="The transaction's status now (received or queued).")
    message = serializers.CharField()


class LineageEventSerializer(TransactionEventSerializer):
    transaction = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(TransactionEventSerializer.Meta):
        fields = ["transaction", *TransactionEventSerializer.Meta.fields]
        read_only_fields = fields


class LineageSerializer(serializers.Serializer):
    correlation_id = serializers.CharField()
    transactions = TransactionSerializer(many=True, help_text="Oldest first.")
    events = LineageEventSerializer(many=True, help_text="Their events, oldest first.")
    truncated = serializers.BooleanField(help_text="More transactions exist than were listed.")
