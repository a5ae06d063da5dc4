"""Bulk replay queries: what a filter matches (through the list screens' own FilterSets), in
words and in numbers, and the job history, progress and outcome tables."""

import datetime
from dataclasses import dataclass, field

import django_filters
from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils import formats, timezone

from apps.core.errors import HubError
from apps.exceptions.choices import OPEN_STATUSES
from apps.exceptions.filtersets import ACTIVE, BusinessExceptionFilterSet
from apps.exceptions.selectors import exception_list
from apps.pipeline.choices import REPLAYABLE_STATUSES
from apps.pipeline.filtersets import TransactionFilterSet
from apps.pipeline.selectors import transaction_list
from apps.replays.choices import ReplayJobKindChoices
from apps.replays.models import ReplayJob, ReplayJobItem

BULK_PERMISSION = "accounts.bulk_replay"
# Job history and outcomes are records of what happened to transactions and exceptions:
# whoever may see those may read them (viewers, analysts, auditors). Starting and cancelling
# need BULK_PERMISSION.
VIEW_PERMISSIONS = ("pipeline.view_transaction", "exceptions.view_businessexception")

MAX_ITEMS_DEFAULT = 50_000


def replay_max_items() -> int:
    """Largest number of items one job may snapshot (settings.HUBCONSOLE["REPLAY_MAX_ITEMS"])."""
    return int(settings.HUBCONSOLE.get("REPLAY_MAX_ITEMS", MAX_ITEMS_DEFAULT))


@dataclass(frozen=True)
class _Source:
    filterset_class: type[django_filters.FilterSet]
    listed: object  # () -> QuerySet: the list screen's queryset
    defaults: dict  # what the list screen assumes when a filter is absent
    scope: str  # which of the listed rows a replay takes, in words


SOURCES = {
    ReplayJobKindChoices.EXCEPTIONS: _Source(
        BusinessExceptionFilterSet,
        exception_list,
        # The exception list shows open exceptions unless told otherwise (ExceptionListView).
        {"status": ACTIVE},
        "open exceptions",
    ),
    ReplayJobKindChoices.TRANSACTIONS: _Source(
        TransactionFilterSet,
        transaction_list,
        {},
        "failed, retrying or waiting transactions",
    ),
}


def replay_kind(kind: str) -> str:
    if kind not in SOURCES:
        raise HubError(
            "REPLAY_KIND_INVALID", "Say what to replay: kind=exceptions or kind=transactions."
        )
    return kind


def replay_filter_params(*, kind: str, params) -> dict[str, str]:
    """The filter fields of ``params`` (a QueryDict or dict) that the list screen knows, with
    the list's defaults applied: the filter a job stores and applies. Other parameters (the
    list's ``before`` cursor, this screen's own fields) are not part of the filter."""
    source = SOURCES[replay_kind(kind)]
    known = source.filterset_class.base_filters
    cleaned = {}
    for name in known:
        # Present but empty counts as given, as on the list screen ("status=" means any status).
        if name in params and params.get(name) is not None:
            cleaned[name] = str(params.get(name))
    for name, value in source.defaults.items():
        cleaned.setdefault(name, value)
    return cleaned


def replay_filterset(*, kind: str, params) -> django_filters.FilterSet:
    """The list screen's FilterSet, bound to ``params`` exactly as that screen binds it."""
    source = SOURCES[replay_kind(kind)]
    return source.filterset_class(
        replay_filter_params(kind=kind, params=params), queryset=source.listed()
    )


def _valid(filterset: django_filters.FilterSet) -> django_filters.FilterSet:
    # A FilterSet drops a field whose value is invalid and filters on the rest: fine for a
    # list, dangerous for a bulk replay (a typo in "team" would replay every team's items).
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        raise HubError("REPLAY_FILTER_INVALID", f"The filter is not valid ({problems}).")
    return filterset


def replay_candidates(*, kind: str, params) -> QuerySet:
    """What a bulk replay with this filter takes: the list screen's rows for the same query
    string, narrowed to those a replay may act on (open exceptions; transactions in a
    replayable status). Raises REPLAY_FILTER_INVALID for a filter the list would half-ignore."""
    queryset = _valid(replay_filterset(kind=kind, params=params)).qs
    if kind == ReplayJobKindChoices.EXCEPTIONS:
        return queryset.filter(status__in=OPEN_STATUSES)
    return queryset.filter(status__in=REPLAYABLE_STATUSES)


def replay_filter_words(filterset: django_filters.FilterSet) -> list[tuple[str, str]]:
    """The filter as a person would say it: (label, value) for every field that is set."""
    if not filterset.is_valid():
        return []
    form = filterset.form
    words = []
    for name, form_field in form.fields.items():
        value = form.cleaned_data.get(name)
        if value in (None, "", [], ()):
            continue
        if isinstance(form_field, forms.ModelChoiceField):
            text = str(value)
        elif isinstance(form_field, forms.ChoiceField):
            text = str(dict(form_field.choices).get(value, value))
        elif isinstance(value, datetime.datetime):
            text = formats.date_format(timezone.localtime(value), "Y-m-d H:i T")
        else:
            text = str(value)
        label = form_field.label or name.replace("_", " ").capitalize()
        words.append((str(label), text))
    return words


@dataclass(frozen=True)
class ReplayPreview:
    """What the "Replay these…" screen shows before anything is written."""

    kind: str
    scope: str
    params: dict
    words: list[tuple[str, str]] = field(default_factory=list)
    listed: int = 0  # rows the list screen shows for this filter
    count: int = 0  # of which a bulk replay would take
    max_items: int = MAX_ITEMS_DEFAULT
    error: str = ""

    @property
    def not_replayable(self) -> int:
        return max(self.listed - self.count, 0)

    @property
    def too_many(self) -> bool:
        return self.count > self.max_items

    @property
    def can_start(self) -> bool:
        return not self.error and 0 < self.count <= self.max_items


def replay_preview(*, kind: str, params) -> ReplayPreview:
    """Counts for the preview screen (read-only; the job's snapshot is taken on submit)."""
    source = SOURCES[replay_kind(kind)]
    filter_params = replay_filter_params(kind=kind, params=params)
    filterset = replay_filterset(kind=kind, params=params)
    base = {
        "kind": kind,
        "scope": source.scope,
        "params": filter_params,
        "max_items": replay_max_items(),
    }
    try:
        candidates = replay_candidates(kind=kind, params=params)
    except HubError as error:
        return ReplayPreview(**base, error=error.message)
    return ReplayPreview(
        **base,
        words=replay_filter_words(filterset),
        listed=filterset.qs.order_by().count(),
        count=candidates.order_by().count(),
    )


# --- Jobs -----------------------------------------------------------------------------------


def replay_job_list() -> QuerySet[ReplayJob]:
    return ReplayJob.objects.select_related("created_by", "cancelled_by").order_by("-id")


def replay_job_get(*, job_id: int) -> ReplayJob:
    return replay_job_list().get(pk=job_id)


def replay_job_item_list(*, job_id: int) -> QuerySet[ReplayJobItem]:
    return ReplayJobItem.objects.filter(job_id=job_id)


def replay_job_elapsed(job: ReplayJob) -> datetime.timedelta | None:
    if job.started_at is None:
        return None
    return (job.finished_at or timezone.now()) - job.started_at


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class ReplayJobProgress:
    """What the progress panel shows, from the job row alone (one cheap read per poll)."""

    handled: int
    pending: int
    percent: int
    elapsed: str
    remaining: str  # an estimate from the throttle, for a real run that is under way


def replay_job_progress(job: ReplayJob) -> ReplayJobProgress:
    handled = job.handled
    pending = max(job.total - handled, 0)
    elapsed = replay_job_elapsed(job)
    remaining = ""
    if job.status in ("queued", "running") and not job.dry_run and pending:
        remaining = _duration(pending / job.rate_per_second)
    return ReplayJobProgress(
        handled=handled,
        pending=pending,
        percent=job.percent,
        elapsed=_duration(elapsed.total_seconds()) if elapsed is not None else "",
        remaining=remaining,
    )


def replay_job_filter_words(job: ReplayJob) -> list[tuple[str, str]]:
    return replay_filter_words(replay_filterset(kind=job.kind, params=job.filter_params))
