"""Business exceptions as the status API shows them (summaries never hold patient data)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.exceptions.models import BusinessException, ExceptionActivity
from apps.exceptions.selectors import exception_details_for


class BusinessExceptionSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:exception-detail")
    code = serializers.CharField(source="code_id", read_only=True)
    title = serializers.CharField(source="code.title", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    transaction = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = BusinessException
        fields = [
            "id",
            "url",
            "code",
            "title",
            "team",
            "severity",
            "status",
            "summary",
            "transaction",
            "correlation_id",
            "root_cause_key",
            "supplier",
            "facility",
            "amount",
            "document",
            "occurrences",
            "assignee",
            "opened_at",
            "last_seen_at",
            "due_at",
            "resolved_at",
        ]
        read_only_fields = fields


class ExceptionActivitySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ExceptionActivity
        fields = ["id", "kind", "actor", "message", "created_at"]
        read_only_fields = fields


class BusinessExceptionDetailSerializer(BusinessExceptionSerializer):
    category = serializers.CharField(source="code.category", read_only=True)
    meaning = serializers.CharField(source="code.meaning", read_only=True)
    allowed_actions = serializers.ListField(
        source="code.allowed_actions", child=serializers.CharField(), read_only=True
    )
    activity = ExceptionActivitySerializer(many=True, read_only=True, source="activity_rows")
    details = serializers.SerializerMethodField(
        help_text="Codes and facts of the failure; a target's own words only with the "
        "view-payload permission."
    )

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, item) -> dict:
        request = self.context.get("request")
        return exception_details_for(details=item.details, user=getattr(request, "user", None))

    class Meta(BusinessExceptionSerializer.Meta):
        fields = [
            *BusinessExceptionSerializer.Meta.fields,
            "category",
            "meaning",
            "allowed_actions",
            "details",
            "resolution",
            "activity",
        ]
        read_only_fields = fields


class ExceptionReplayResultSerializer(serializers.Serializer):
    exception = serializers.IntegerField()
    transaction = serializers.IntegerField()
    status = serializers.CharField(help_text="The transaction's status now.")
    message = serializers.CharField()
