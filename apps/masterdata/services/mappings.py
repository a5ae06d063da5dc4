"""Governed mappings: propose, approve (by someone else), reject, retire; then replay.

A cross-reference or tolerance rule is a draft until a second steward approves it; only
approved ones are used. Approving a change to an approved mapping ends the old one the day
before the new one starts, so there is never a day with two answers (the database refuses
that anyway) and history stays intact.
"""

import datetime
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.audit import acting_as
from apps.core.errors import HubError, PermissionDenied
from apps.exceptions.catalogue import codes
from apps.exceptions.choices import OPEN_STATUSES, ExceptionActivityKindChoices
from apps.exceptions.models import BusinessException, ExceptionActivity
from apps.exceptions.selectors import root_cause_parts
from apps.masterdata import cache
from apps.masterdata.choices import ApprovalStatusChoices
from apps.masterdata.entities import ENTITY_TYPES, entity_type_for_model, root_cause_key
from apps.masterdata.models import CrossReference, ExternalSystem, ToleranceRule

PROPOSE = "accounts.fix_mapping"
APPROVE = "accounts.approve_mapping"
DRAFT = ApprovalStatusChoices.DRAFT
APPROVED = ApprovalStatusChoices.APPROVED


def _require(actor, permission: str, what: str) -> None:
    if actor is None or not actor.has_perm(permission):
        raise PermissionDenied(f"You may not {what}.")


def _governed_locked(model, pk: int):
    return model.objects.select_for_update().get(pk=pk)


# --- Cross-references ---------------------------------------------------------------------------


@transaction.atomic
def crossref_propose(
    *,
    actor,
    system: str,
    entity_type: str,
    external_code: str,
    target,
    effective_from: datetime.date | None = None,
    effective_to: datetime.date | None = None,
    note: str = "",
    supersedes: CrossReference | None = None,
) -> CrossReference:
    """Propose that ``system``'s ``external_code`` means ``target`` (a draft until approved)."""
    _require(actor, PROPOSE, "propose mapping changes")
    if entity_type not in ENTITY_TYPES:
        raise HubError("ENTITY_TYPE_UNKNOWN", f"Unknown entity type {entity_type!r}.")
    if entity_type_for_model(type(target)).slug != entity_type:
        raise HubError(
            "MAPPING_TARGET_MISMATCH", f"A {entity_type} mapping must point at a {entity_type}."
        )
    external_code = external_code.strip()
    if not external_code:
        raise HubError("MAPPING_CODE_EMPTY", "The external code is empty.")
    try:
        external_system = ExternalSystem.objects.get(code=system)
    except ExternalSystem.DoesNotExist:
        raise HubError("EXTERNAL_SYSTEM_UNKNOWN", f"No external system {system!r}.") from None
    if supersedes is not None:
        supersedes = CrossReference.objects.get(pk=supersedes.pk)  # its state now, not the caller's
    if supersedes is not None and (
        supersedes.status != APPROVED
        or (supersedes.external_system_id, supersedes.entity_type, supersedes.external_code)
        != (external_system.pk, entity_type, external_code)
    ):
        raise HubError(
            "MAPPING_SUPERSEDES_INVALID",
            "A change must replace an approved mapping of the same external code.",
        )
    xref = CrossReference(
        external_system=external_system,
        entity_type=entity_type,
        external_code=external_code,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        effective_from=effective_from or timezone.localdate(),
        effective_to=effective_to,
        note=note[:300],
        created_by=actor,
        supersedes=supersedes,
    )
    xref.full_clean()
    with acting_as(actor):
        xref.save()
    return xref


@transaction.atomic
def crossref_propose_for_root_cause(
    *,
    actor,
    root_cause_key: str,
    target,
    external_code: str = "",
    note: str = "",
    effective_from: datetime.date | None = None,
) -> CrossReference:
    """Propose the mapping a root cause is missing, from the console's exception screens:
    ``root_cause_key`` names the system and entity type (and, inbound, the unknown external
    code; outbound, the record that has no code there, so ``external_code`` is typed in).
    Every open exception of that root cause records the proposal in its activity."""
    parts = root_cause_parts(root_cause_key)
    if not parts.get("mapping_fix"):
        raise HubError("NOT_A_MAPPING", "This root cause is not fixed by a mapping.")
    if target is None:
        raise HubError("MAPPING_TARGET_MISSING", "Choose the record the code stands for.")
    if parts["record_code"] and target.code != parts["record_code"]:
        raise HubError(
            "MAPPING_TARGET_MISMATCH", f"This root cause is about {parts['record_code']}."
        )
    xref = crossref_propose(
        actor=actor,
        system=parts["system"],
        entity_type=parts["entity_type"],
        external_code=parts["external_code"] or external_code,
        target=target,
        note=note,
        effective_from=effective_from,
    )
    items = list(
        BusinessException.objects.filter(root_cause_key=root_cause_key, status__in=OPEN_STATUSES)
    )
    message = (
        f"{actor.get_username()} proposed {parts['system']} {parts['entity_type']} "
        f"{xref.external_code} → {target.code}; waiting for another steward's approval."
    )
    ExceptionActivity.objects.bulk_create(
        ExceptionActivity(
            exception=item,
            kind=ExceptionActivityKindChoices.MAPPING_PROPOSED,
            actor=actor,
            message=message,
            data={"crossreference_id": xref.pk},
        )
        for item in items
    )
    return xref


@dataclass(frozen=True)
class Approved:
    record: object  # the approved CrossReference or ToleranceRule
    resolvable_exception_ids: list[int]  # open exceptions its key may now resolve


def _decide(record, *, actor, status: str, reason: str) -> None:
    record.status = status
    record.decided_by = actor
    record.decided_at = timezone.now()
    record.decision_reason = reason[:300]


def _end_superseded(record, *, actor) -> None:
    """The approved version a change replaces ends the day before the change starts."""
    old = record.supersedes
    if old is None:
        return
    old = type(record).objects.select_for_update().get(pk=old.pk)
    if old.effective_from < record.effective_from:
        day_before = record.effective_from - datetime.timedelta(days=1)
        # Only ever shorten: a change must not revive days the old version had given up.
        if old.effective_to is None or old.effective_to > day_before:
            old.effective_to = day_before
    else:
        old.status = ApprovalStatusChoices.RETIRED
    with acting_as(actor):
        old.save()


def _approve(model, pk: int, *, actor, reason: str):
    _require(actor, APPROVE, "approve mapping changes")
    record = _governed_locked(model, pk)
    if record.status != DRAFT:
        raise HubError("MAPPING_NOT_DRAFT", "Only a change waiting for approval can be approved.")
    if record.created_by_id == actor.pk:
        # Maker-checker: a second pair of eyes on every mapping that changes postings.
        raise HubError(
            "SELF_APPROVAL", "You proposed this change; another steward must approve it."
        )
    _end_superseded(record, actor=actor)
    _decide(record, actor=actor, status=APPROVED, reason=reason)
    try:
        with transaction.atomic(), acting_as(actor):
            record.save()
    except IntegrityError:
        raise HubError(
            "MAPPING_OVERLAP",
            "An approved mapping of this code already covers these dates; propose a change to "
            "it instead.",
        ) from None
    cache.bump_on_commit()
    return record


@transaction.atomic
def crossref_approve(*, xref_id: int, actor, reason: str = "") -> Approved:
    """Approve another steward's proposal; returns the open exceptions it may resolve."""
    xref = _approve(CrossReference, xref_id, actor=actor, reason=reason)
    return Approved(
        xref, list(crossref_resolvable_exceptions(xref=xref).values_list("pk", flat=True))
    )


def _reject(model, pk: int, *, actor, reason: str):
    record = _governed_locked(model, pk)
    is_author = actor is not None and record.created_by_id == actor.pk
    if not is_author:
        _require(actor, APPROVE, "reject mapping changes")
    if record.status != DRAFT:
        raise HubError("MAPPING_NOT_DRAFT", "Only a change waiting for approval can be rejected.")
    if not reason.strip():
        raise HubError("REASON_REQUIRED", "Say why, so the author can correct the change.")
    _decide(record, actor=actor, status=ApprovalStatusChoices.REJECTED, reason=reason.strip())
    with acting_as(actor):
        record.save()
    return record


@transaction.atomic
def crossref_reject(*, xref_id: int, actor, reason: str) -> CrossReference:
    """Refuse a proposal (or, by its author, withdraw it)."""
    return _reject(CrossReference, xref_id, actor=actor, reason=reason)


def _retire(model, pk: int, *, actor, last_day: datetime.date | None, reason: str):
    _require(actor, APPROVE, "retire mappings")
    record = _governed_locked(model, pk)
    if record.status != APPROVED:
        raise HubError("MAPPING_NOT_APPROVED", "Only an approved mapping can be retired.")
    if not reason.strip():
        raise HubError("REASON_REQUIRED", "Say why this mapping ends.")
    last_day = last_day or timezone.localdate()
    if last_day < record.effective_from:
        record.status = ApprovalStatusChoices.RETIRED  # never started: it simply goes away
    elif record.effective_to is None or last_day < record.effective_to:
        record.effective_to = last_day  # retiring shortens, never lengthens
    record.decision_reason = reason.strip()[:300]
    with acting_as(actor):
        record.save()
    cache.bump_on_commit()
    return record


@transaction.atomic
def crossref_retire(
    *, xref_id: int, actor, reason: str, last_day: datetime.date | None = None
) -> CrossReference:
    """End an approved mapping on ``last_day`` (today by default)."""
    return _retire(CrossReference, xref_id, actor=actor, last_day=last_day, reason=reason)


# --- From root cause to replay ------------------------------------------------------------------


def crossref_resolvable_exceptions(*, xref: CrossReference):
    """Open exceptions raised for exactly the code this mapping now provides."""
    from apps.masterdata.lookup import outbound_root_cause_key

    entity = ENTITY_TYPES[xref.entity_type]
    system = xref.external_system.code
    inbound = Q(
        code_id=entity.miss_code,
        root_cause_key=root_cause_key(xref.entity_type, system, xref.external_code),
    )
    # ... and the other direction: the record had no code to send to this system.
    target = xref.target
    outbound = Q(
        code_id=codes.VALUE_MAPPING_MISSING,
        root_cause_key=outbound_root_cause_key(xref.entity_type, system, target.code),
    )
    return BusinessException.objects.filter(inbound | outbound, status__in=OPEN_STATUSES).order_by(
        "pk"
    )


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: list[int]
    refused: dict[int, str]  # exception id -> why it was not replayed


def crossref_replay_resolvable(*, xref_id: int, actor) -> ReplayOutcome:
    """Replay the transactions behind every open exception this approved mapping resolves.

    Each replay is its own commit; one that is refused (closed meanwhile, no permission,
    not replayable) is reported, not fatal. The exceptions close when their replays succeed.
    """
    from apps.pipeline.services import exception_replay

    xref = CrossReference.objects.select_related("external_system").get(pk=xref_id)
    if xref.status != APPROVED:
        raise HubError("MAPPING_NOT_APPROVED", "Only an approved mapping resolves exceptions.")
    replayed, refused = [], {}
    for exception_id in crossref_resolvable_exceptions(xref=xref).values_list("pk", flat=True):
        try:
            exception_replay(exception_id=exception_id, actor=actor)
            replayed.append(exception_id)
        except HubError as error:
            refused[exception_id] = error.message
    return ReplayOutcome(replayed, refused)


def crossref_approve_and_replay(*, xref_id: int, actor, reason: str = "") -> ReplayOutcome:
    """Approve another steward's proposal, then replay every exception it resolves (the
    approval commits first; each replay is its own commit)."""
    approved = crossref_approve(xref_id=xref_id, actor=actor, reason=reason)
    return crossref_replay_resolvable(xref_id=approved.record.pk, actor=actor)


# --- Tolerance rules ----------------------------------------------------------------------------


@transaction.atomic
def tolerance_propose(*, actor, rule: ToleranceRule, supersedes: ToleranceRule | None = None):
    """Propose a new tolerance rule or a change to an approved one (a draft until approved)."""
    _require(actor, PROPOSE, "propose tolerance changes")
    if supersedes is not None:
        supersedes = ToleranceRule.objects.get(pk=supersedes.pk)
    if supersedes is not None and supersedes.status != APPROVED:
        raise HubError("MAPPING_SUPERSEDES_INVALID", "A change must replace an approved rule.")
    rule.pk = None
    rule.status = DRAFT
    rule.created_by = actor
    rule.supersedes = supersedes
    rule.decided_by = rule.decided_at = None
    rule.full_clean()
    with acting_as(actor):
        rule.save()
    return rule


@transaction.atomic
def tolerance_approve(*, rule_id: int, actor, reason: str = "") -> ToleranceRule:
    return _approve(ToleranceRule, rule_id, actor=actor, reason=reason)


@transaction.atomic
def tolerance_reject(*, rule_id: int, actor, reason: str) -> ToleranceRule:
    return _reject(ToleranceRule, rule_id, actor=actor, reason=reason)


@transaction.atomic
def tolerance_retire(
    *, rule_id: int, actor, reason: str, last_day: datetime.date | None = None
) -> ToleranceRule:
    return _retire(ToleranceRule, rule_id, actor=actor, last_day=last_day, reason=reason)


class ToleranceBook:
    """The approved tolerance rules in effect on one date, indexed so that matching a million
    lines asks the database once. For each (level, measure) an item's rule beats a supplier's,
    which beats a facility's, which beats the default."""

    def __init__(self, rules):
        self._by_scope: dict[tuple[str, int | None], dict[tuple[str, str], ToleranceRule]] = {}
        for rule in rules:
            if rule.item_id is not None:
                scope = ("item", rule.item_id)
            elif rule.supplier_id is not None:
                scope = ("supplier", rule.supplier_id)
            elif rule.facility_id is not None:
                scope = ("facility", rule.facility_id)
            else:
                scope = ("default", None)
            self._by_scope.setdefault(scope, {})[(rule.level, rule.measure)] = rule
        self._answers: dict[tuple, dict[tuple[str, str], ToleranceRule]] = {}

    def rules_for(
        self, *, supplier_id: int | None, item_id: int | None, facility_id: int | None
    ) -> dict[tuple[str, str], ToleranceRule]:
        key = (supplier_id, item_id, facility_id)
        answer = self._answers.get(key)
        if answer is None:
            answer = {}
            for scope in (
                ("default", None),
                ("facility", facility_id),
                ("supplier", supplier_id),
                ("item", item_id),
            ):
                if scope[1] is not None or scope[0] == "default":
                    answer.update(self._by_scope.get(scope, {}))
            self._answers[key] = answer
        return answer


def tolerance_book(*, on: datetime.date) -> ToleranceBook:
    """The approved rules in effect on ``on``, ready for many questions; cached per process
    like lookups, until master data changes (an approval bumps the cache generation)."""
    generation = cache.current_generation()
    store = cache.entries(generation) if generation is not None else {}
    book = store.get(("tolerance_book", on))
    if book is None:
        book = store[("tolerance_book", on)] = ToleranceBook(_rules_in_effect(on))
    return book


def _rules_in_effect(on: datetime.date) -> list[ToleranceRule]:
    return list(
        ToleranceRule.objects.filter(status=APPROVED, effective_from__lte=on).exclude(
            effective_to__lt=on
        )
    )


def tolerance_rules_for(
    *,
    supplier_id: int | None,
    item_id: int | None,
    facility_id: int | None,
    on: datetime.date,
) -> dict[tuple[str, str], ToleranceRule]:
    """The rule that applies per (level, measure): item beats supplier beats facility beats the
    default. Only approved rules in effect on ``on`` count."""
    return ToleranceBook(_rules_in_effect(on)).rules_for(
        supplier_id=supplier_id, item_id=item_id, facility_id=facility_id
    )
