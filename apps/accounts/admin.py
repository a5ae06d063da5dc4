"""API tokens in the admin: issue (the secret is shown once), list and revoke; never edit."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from apps.accounts.choices import ApiTokenScopeChoices
from apps.accounts.models import ApiToken
from apps.accounts.selectors import api_token_list
from apps.accounts.services import API_TOKEN_MAX_DAYS, api_token_create, api_token_revoke
from apps.core.errors import HubError


class ApiTokenCreateForm(forms.ModelForm):
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username")
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiTokenScopeChoices.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiTokenScopeChoices.READ],
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=API_TOKEN_MAX_DAYS,
        initial=90,
        help_text=f"Days until the token expires (at most {API_TOKEN_MAX_DAYS}).",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "owner", "scopes"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "key_prefix",
        "owner",
        "scope_list",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = ["revoked_at", "scopes"]
    search_fields = ["name", "key_prefix", "owner__username"]
    readonly_fields = [
        "name",
        "owner",
        "key_prefix",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    actions = ["revoke"]

    def get_queryset(self, request):
        return api_token_list()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
            kwargs["fields"] = ["name", "owner", "scopes", "days"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name", "owner", "scopes", "days"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:  # nothing of a token is editable; the change form is read-only
            return
        token, secret = api_token_create(
            owner=form.cleaned_data["owner"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            days=form.cleaned_data["days"],
            actor=request.user,
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the saved token.
        obj.__dict__.update(token.__dict__)
        messages.warning(
            request,
            f"Copy the secret of “{token.name}” now; it is not stored and will not be shown "
            f"again: {secret}",
        )

    def has_change_permission(self, request, obj=None):
        # Revocation is the only change, and it goes through the action (a service).
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: a deleted token would leave audit rows pointing at nothing.
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        count = 0
        for token_id in queryset.values_list("id", flat=True):
            try:
                api_token_revoke(token_id=token_id, actor=request.user)
                count += 1
            except HubError as error:
                self.message_user(request, error.message, messages.ERROR)
                return
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_apitoken")
