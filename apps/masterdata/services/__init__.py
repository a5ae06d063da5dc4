"""Master-data services: records, duplicates and merges; governed mappings and replays."""

from apps.masterdata.services.mappings import (
    Approved,
    ReplayOutcome,
    crossref_approve,
    crossref_propose,
    crossref_reject,
    crossref_replay_resolvable,
    crossref_resolvable_exceptions,
    crossref_retire,
    tolerance_approve,
    tolerance_propose,
    tolerance_reject,
    tolerance_retire,
    tolerance_rules_for,
)
from apps.masterdata.services.records import (
    DuplicatePair,
    duplicates_scan,
    normalized_name,
    normalized_part,
    record_history_ids,
    record_merge,
    record_save,
)

__all__ = [
    "Approved",
    "DuplicatePair",
    "ReplayOutcome",
    "crossref_approve",
    "crossref_propose",
    "crossref_reject",
    "crossref_replay_resolvable",
    "crossref_resolvable_exceptions",
    "crossref_retire",
    "duplicates_scan",
    "normalized_name",
    "normalized_part",
    "record_history_ids",
    "record_merge",
    "record_save",
    "tolerance_approve",
    "tolerance_propose",
    "tolerance_reject",
    "tolerance_retire",
    "tolerance_rules_for",
]
