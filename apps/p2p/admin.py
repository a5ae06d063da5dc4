"""Procure-to-pay settings in the admin: how large a variance each role may accept."""

from django.contrib import admin

from apps.p2p.models import VarianceAuthority


@admin.register(VarianceAuthority)
class VarianceAuthorityAdmin(admin.ModelAdmin):
    list_display = ("group", "max_amount")
    autocomplete_fields = ("group",)
