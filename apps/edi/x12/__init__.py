"""X12 codec for HubConsole: plain Python, no Django, testable and fuzzable alone.

Reading::

    interchange = read_interchange(data)          # bytes or str; ISA/IEA problems raise
    map_interchange(interchange)                  # fills tx.document or tx.error per set
    for tx in interchange.transaction_sets:
        tx.document or tx.error                   # PurchaseOrder / X12Error ...
    ack_997(interchange.groups[0], interchange_control="000000123", group_control="123",
            now=datetime.datetime.now(datetime.UTC))

Writing: :func:`purchase_order_to_850`, and :func:`write_segments` /
:func:`write_interchange` for anything else. Every failure while reading is an
:class:`X12Error` carrying the product's exception code.
"""

from .acks import ack_997, ack_999, ack_ta1, group_status
from .envelope import read_header, read_interchange, read_interchanges
from .errors import ENVELOPE_REJECTED, PARSE_ERROR, SCHEMA_INVALID, X12Error
from .interchange import FunctionalGroup, Interchange, InterchangeHeader, TransactionSet
from .maps import (
    MAPS,
    map_interchange,
    purchase_order_from_850,
    purchase_order_to_850,
    to_canonical,
)
from .maps.ack855 import po_acknowledgment_from_855
from .maps.asn856 import ship_notice_from_856
from .maps.invoice810 import invoice_from_810
from .reader import decode_text
from .segments import Segment, Separators
from .standalone import standalone
from .writer import (
    OutboundEnvelope,
    format_segment,
    transaction_set,
    write_interchange,
    write_segments,
)

__all__ = [
    "ENVELOPE_REJECTED",
    "MAPS",
    "PARSE_ERROR",
    "SCHEMA_INVALID",
    "FunctionalGroup",
    "Interchange",
    "InterchangeHeader",
    "OutboundEnvelope",
    "Segment",
    "Separators",
    "TransactionSet",
    "X12Error",
    "ack_997",
    "ack_999",
    "ack_ta1",
    "decode_text",
    "format_segment",
    "group_status",
    "invoice_from_810",
    "map_interchange",
    "po_acknowledgment_from_855",
    "purchase_order_from_850",
    "purchase_order_to_850",
    "read_header",
    "read_interchange",
    "read_interchanges",
    "ship_notice_from_856",
    "standalone",
    "to_canonical",
    "transaction_set",
    "write_interchange",
    "write_segments",
]
