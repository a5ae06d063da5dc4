"""X12 interchanges in the pipeline: split into one child transaction per transaction set,
acknowledged to the partner (TA1, 997 or 999), and rejected with the segment and element
named when the envelope or a set is broken."""

from apps.core.errors import HubError
from apps.edi import services
from apps.edi.x12 import X12Error, map_interchange, read_header, read_interchange, standalone
from apps.exceptions.catalogue import codes
from apps.pipeline.processors import Applied, Child, InboundView, Processed, register

INTERCHANGE = "x12.interchange"
# Transaction sets HubConsole processes, and the document type each child becomes.
CHILD_TYPES = {
    "850": "p2p.purchase_order",
    "855": "p2p.po_acknowledgment",
    "856": "p2p.ship_notice",
    "810": "p2p.invoice",
}


def _hub_error(error: X12Error, **details) -> HubError:
    return HubError(error.code, error.message, details={**error.to_dict(), **details})


def natural_key(interchange, group, tx) -> str:
    """Sender, receiver, ISA13, GS06 and ST02: what makes a transaction set the same one."""
    return (
        f"x12:{interchange.sender_qualifier}:{interchange.sender_id}:"
        f"{interchange.receiver_id}:{interchange.control}:{group.control}:{tx.control}"
    )


@register(INTERCHANGE)
def interchange(view: InboundView) -> Processed:
    try:
        parsed = read_interchange(view.raw)
    except X12Error as error:
        return _envelope_rejected(view, error)
    map_interchange(parsed)
    partner = services.partner_for(parsed.sender_qualifier, parsed.sender_id)
    children, rejected, ignored = [], [], []
    for group in parsed.groups:
        if group.error is not None:
            rejected.append({"group": group.control, **group.error.to_dict()})
            continue
        for tx in group.sets:
            if tx.error is not None:
                rejected.append({"set": tx.set_id, "control": tx.control, **tx.error.to_dict()})
            elif tx.set_id in CHILD_TYPES:
                children.append(
                    Child(
                        document_type=CHILD_TYPES[tx.set_id],
                        format="x12",
                        body=standalone(tx).encode(),
                        idempotency_key=natural_key(parsed, group, tx),
                        document_id=getattr(tx.document, "document_id", "")[:120],
                        metadata={"set_id": tx.set_id, "control": tx.control},
                        fingerprint=tx.raw.strip().encode(),
                    )
                )
            else:
                ignored.append(f"{tx.set_id}/{tx.control}")
    summary = {
        "document_type": INTERCHANGE,
        "sender": f"{parsed.sender_qualifier}:{parsed.sender_id}",
        "receiver": f"{parsed.receiver_qualifier}:{parsed.receiver_id}",
        "control": parsed.control,
        "groups": len(parsed.groups),
        "sets": len(parsed.transaction_sets),
        "split_out": len(children),
        "rejected": rejected,
        "not_processed": ignored,
        "partner": partner.name if partner else "",
    }
    ref = f"{parsed.sender_id}-{parsed.control}"

    def apply() -> Applied:
        acks = services.acknowledgments_for(
            partner, parsed.groups, header=parsed, interchange_ref=ref
        )
        error = None
        if rejected:
            first = rejected[0]
            error = HubError(
                first.get("code", codes.SCHEMA_INVALID),
                f"{len(rejected)} of {len(parsed.transaction_sets)} transaction set(s) "
                f"rejected; first: {first.get('message', '')}",
                details={"rejected": rejected},
                root_cause_key=f"partner:{parsed.sender_qualifier}:{parsed.sender_id}",
            )
        return Applied(deliveries=acks, error=error)

    keys = [("interchange", f"{parsed.sender_id}:{parsed.control}")]
    return Processed(summary, ref[:120], 1, keys, children=children, apply=apply)


def _envelope_rejected(view: InboundView, error: X12Error) -> Processed:
    """The envelope is broken: nothing is split out; a TA1 says why, when the partner is known
    and its ISA can be read."""
    try:
        header = read_header(view.raw)
    except X12Error:
        header = None
    partner = services.partner_for(header.sender_qualifier, header.sender_id) if header else None
    ref = f"{header.sender_id}-{header.control}" if header else ""

    def apply() -> Applied:
        deliveries = services.rejection_for(partner, header, error, ref) if header else []
        return Applied(deliveries=deliveries, error=_hub_error(error))

    summary = {"document_type": INTERCHANGE, "error": error.to_dict()}
    return Processed(summary, ref[:120], apply=apply)
