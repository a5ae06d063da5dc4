"""Maps from X12 transaction sets to the canonical procure-to-pay documents (and 850 back)."""

from __future__ import annotations

from collections.abc import Callable

from apps.p2p.canonical import Canonical

from ..errors import X12Error, set_error
from ..interchange import Interchange, TransactionSet
from .ack855 import po_acknowledgment_from_855
from .asn856 import ship_notice_from_856
from .invoice810 import invoice_from_810
from .po850 import purchase_order_from_850, purchase_order_to_850

MAPS: dict[str, Callable[[TransactionSet], Canonical]] = {
    "850": purchase_order_from_850,
    "855": po_acknowledgment_from_855,
    "856": ship_notice_from_856,
    "810": invoice_from_810,
}

__all__ = [
    "MAPS",
    "map_interchange",
    "purchase_order_from_850",
    "purchase_order_to_850",
    "to_canonical",
]


def to_canonical(tx: TransactionSet) -> Canonical:
    """The canonical document of one set; raises its X12Error when the set is rejected."""
    if tx.error is not None:
        raise tx.error
    mapper = MAPS.get(tx.set_id)
    if mapper is None:
        raise set_error(
            f"transaction set {tx.set_id} has no canonical map (maps: {', '.join(MAPS)})",
            ak502="1",
            segment="ST",
            position=1,
            element="ST01",
        )
    return mapper(tx)


def map_interchange(interchange: Interchange) -> list[TransactionSet]:
    """Map every set that has a canonical map, recording ``document`` or ``error`` on it, so
    acknowledgments generated afterwards also reject sets whose content is invalid. Returns
    the sets that were mapped; sets of other kinds (835, 837, 997) are left as they are."""
    mapped = []
    for tx in interchange.transaction_sets:
        if tx.error is not None or tx.set_id not in MAPS:
            continue
        try:
            tx.document = to_canonical(tx)
        except X12Error as error:
            tx.error = error
        mapped.append(tx)
    return mapped
