"""Account queries: API tokens for the admin and the command line."""

from django.db.models import QuerySet

from apps.accounts.models import ApiToken


def api_token_list() -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("owner").order_by("-created_at", "-id")


def api_token_get(*, key_prefix: str) -> ApiToken:
    return ApiToken.objects.select_related("owner").get(key_prefix=key_prefix)
