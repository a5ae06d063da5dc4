"""Transaction lists by time window: bounding the id (to skip the walk from the newest row)
never changes which transactions are listed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.pipeline.filtersets import TransactionFilterSet
from apps.pipeline.models import Transaction
from apps.pipeline.selectors import transaction_id_window, transaction_list
from tests.conftest import make_webhook
from tests.pipeline.builders import receive_json

pytestmark = pytest.mark.django_db

DAYS_AGO = [90, 60, 45, 44.5, 30, 10, 3, 2.5, 0.2, 0]  # a quiet month between 45 and 30


@pytest.fixture
def history():
    """Transactions received over three months, ids in the order they were inserted."""
    connector = make_webhook()
    now = timezone.now()
    ids = {}
    for n, days in enumerate(DAYS_AGO):
        tx_id = receive_json(connector, {"id": f"t{n}"}).transaction_id
        Transaction.objects.filter(pk=tx_id).update(received_at=now - timedelta(days=days))
        ids[days] = tx_id
    return now, ids


def listed(**params) -> list[int]:
    filterset = TransactionFilterSet(
        {k: v.isoformat() for k, v in params.items()}, queryset=transaction_list()
    )
    assert filterset.is_valid(), filterset.errors
    return list(filterset.qs.order_by("-id").values_list("id", flat=True))


def expected(ids, *, after=None, before=None, now) -> list[int]:
    return sorted(
        (
            tx_id
            for days, tx_id in ids.items()
            if (after is None or now - timedelta(days=days) >= after)
            and (before is None or now - timedelta(days=days) < before)
        ),
        reverse=True,
    )


@pytest.mark.parametrize(
    ("after_days", "before_days"),
    [
        (None, 50),  # everything before a moment far back
        (None, 40),  # ... in a quiet month: the bound looks further ahead
        (None, 2.7),  # ... the day after its next day is quiet: the week is read
        (None, 95),  # ... before anything: nothing
        (None, 0.5),  # recent: no bound needed
        (61, 59),  # a narrow window far back
        (40, 35),  # a window with nothing in it
        (5, 0.1),  # a window reaching now
        (20, None),  # a lower bound only
    ],
)
def test_time_filters_list_exactly_what_was_received_then(history, after_days, before_days):
    now, ids = history
    after = now - timedelta(days=after_days) if after_days is not None else None
    before = now - timedelta(days=before_days) if before_days is not None else None
    params = {k: v for k, v in (("received_after", after), ("received_before", before)) if v}

    assert listed(**params) == expected(ids, after=after, before=before, now=now)


def test_a_moment_far_back_bounds_the_id_by_the_day_before_it(history):
    now, ids = history

    assert transaction_id_window(received_after=None, received_before=now - timedelta(days=40)) == (
        0,
        ids[44.5],
    )  # the quiet week before it is skipped, the month before is read
    assert (
        transaction_id_window(received_after=None, received_before=now - timedelta(hours=2)) is None
    )
    assert transaction_id_window(
        received_after=now - timedelta(days=40), received_before=now - timedelta(days=35)
    ) == (0, -1)


def test_a_message_inserted_after_a_later_one_is_still_listed(history):
    """Two commits overlap: the one that began first inserts last (a larger id, an earlier
    time). Everything before a moment just after them lists both, and nothing later."""
    now, ids = history
    moment = now - timedelta(days=44)
    first_in, last_in = ids[45], ids[44.5]  # inserted in this order
    Transaction.objects.filter(pk=first_in).update(received_at=moment - timedelta(seconds=1))
    Transaction.objects.filter(pk=last_in).update(received_at=moment - timedelta(seconds=2))

    assert listed(received_before=moment) == [last_in, first_in, ids[60], ids[90]]
