"""Redirect targets taken from the request never leave the site (the login's ``next`` is
covered in tests/accounts/test_login.py)."""

import pytest
from django.urls import reverse

from apps.accounts import roles
from apps.pipeline.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:1"]
)
def test_redirects_edit_and_replay_goes_back_only_to_this_site(world, as_persona, hostile):
    url = reverse("console:transaction_edit", args=[world.tx.pk])
    client = as_persona(roles.INTEGRATION_ENGINEER.slug)

    page = client.get(url, {"next": hostile})
    response = client.post(url, {"f:no": "SEC-EDITED", "reason": "fixing the id", "next": hostile})

    assert page.context["next"] == reverse("console:transaction_detail", args=[world.tx.pk])
    assert response.status_code == 302
    assert response["Location"] == reverse("console:transaction_detail", args=[world.tx.pk])
    assert Transaction.objects.get(pk=world.tx.pk).status != "exception"  # it did replay
