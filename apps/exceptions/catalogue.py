"""The starting exception catalogue (DESIGN §7) and owning teams.

This is seed data: `exception_catalogue_sync` creates missing teams and codes from it and never
overwrites what an administrator has edited since. Code constants used by services live here
so a typo is an AttributeError, not a silent new code.
"""

from dataclasses import dataclass, field

from apps.exceptions.choices import ExceptionActionChoices as A
from apps.exceptions.choices import ExceptionCategoryChoices as C
from apps.exceptions.choices import SeverityChoices as S


@dataclass(frozen=True)
class TeamSeed:
    slug: str
    name: str
    email: str


@dataclass(frozen=True)
class CodeSeed:
    code: str
    category: str
    team: str
    title: str
    meaning: str
    severity: str = S.MEDIUM
    sla_minutes: int = 2 * 24 * 60
    actions: tuple[str, ...] = field(default=())


TEAMS = (
    TeamSeed("integration", "Integration engineering", "integration@example.org"),
    TeamSeed("master_data", "Master data stewardship", "master-data@example.org"),
    TeamSeed("accounts_payable", "Accounts payable", "ap@example.org"),
    TeamSeed("supply_chain", "Supply chain", "supply-chain@example.org"),
    TeamSeed("revenue_integrity", "Revenue integrity", "revenue-integrity@example.org"),
    TeamSeed("billing", "Billing", "billing@example.org"),
    TeamSeed("finance", "Finance", "finance@example.org"),
)

_WORK = (A.ASSIGN, A.COMMENT, A.RESOLVE, A.IGNORE)
_TECH = (*_WORK, A.REPLAY, A.EDIT_REPLAY)
_MAPPING = (*_WORK, A.FIX_MAPPING, A.REPLAY)
_MATCH = (*_WORK, A.ACCEPT_VARIANCE, A.HOLD, A.REJECT, A.REPLAY, A.EDIT_REPLAY)
_DOC = (*_WORK, A.HOLD, A.REJECT, A.REPLAY, A.EDIT_REPLAY)


def _tech(code, title, meaning, severity=S.HIGH, sla=4 * 60, actions=_TECH):
    return CodeSeed(code, C.TECHNICAL, "integration", title, meaning, severity, sla, actions)


def _md(code, title, meaning, severity=S.MEDIUM, sla=24 * 60):
    return CodeSeed(code, C.MASTER_DATA, "master_data", title, meaning, severity, sla, _MAPPING)


def _p2p(code, title, meaning, team="accounts_payable", actions=_MATCH, sla=2 * 24 * 60):
    return CodeSeed(code, C.PROCURE_TO_PAY, team, title, meaning, S.MEDIUM, sla, actions)


def _u2c(code, title, meaning, severity=S.MEDIUM, sla=72 * 60):
    return CodeSeed(
        code, C.USAGE_TO_CHARGE, "revenue_integrity", title, meaning, severity, sla, _DOC
    )


def _claims(code, title, meaning, sla=5 * 24 * 60):
    return CodeSeed(code, C.CLAIMS, "billing", title, meaning, S.MEDIUM, sla, _DOC)


def _fin(code, title, meaning, sla=24 * 60):
    return CodeSeed(code, C.FINANCE, "finance", title, meaning, S.HIGH, sla, _DOC)


CODES = (
    # Technical — integration engineers
    _tech("PARSE_ERROR", "Parse error", "The message could not be parsed in its declared format."),
    _tech(
        "SCHEMA_INVALID",
        "Schema invalid",
        "The message parsed but breaks the schema or implementation guide.",
    ),
    _tech(
        "ENVELOPE_REJECTED", "Envelope rejected", "The interchange envelope was rejected (TA1/999)."
    ),
    _tech(
        "HL7_NEGATIVE_ACK", "HL7 negative acknowledgment", "The receiving system answered AE or AR."
    ),
    _tech(
        "TARGET_UNAVAILABLE",
        "Target unavailable",
        "The target system could not be reached or timed out.",
    ),
    _tech(
        "RETRIES_EXHAUSTED",
        "Retries exhausted",
        "Transient failures continued past the retry limit.",
        S.CRITICAL,
        60,
    ),
    _tech(
        "AUTH_FAILED",
        "Authentication failed",
        "The target refused HubConsole's credentials.",
        S.CRITICAL,
        60,
    ),
    _tech("THROTTLED", "Throttled", "The target kept answering 'too many requests'."),
    _tech("ACK_MISSING", "Acknowledgment missing", "No functional acknowledgment arrived in time."),
    _tech(
        "DUPLICATE_MESSAGE",
        "Duplicate message",
        "A message with the same key was already received.",
        S.LOW,
    ),
    _tech(
        "DUPLICATE_DIFFERENT_CONTENT",
        "Same key, different content",
        "A message reused an existing key (event id, or document and revision) with different "
        "content; it was stored aside. Replaying it unchanged would conflict again: ask the "
        "sender for a new event or revision, or edit it.",
        actions=(*_WORK, A.EDIT_REPLAY),
    ),
    _tech(
        "POISON_MESSAGE",
        "Worker crashed on message",
        "Processing this message ended a worker process repeatedly; it was taken out of the flow.",
        S.CRITICAL,
        60,
    ),
    _tech(
        "DELIVERY_REJECTED",
        "Rejected by target",
        "The target system refused the message as invalid (a business or validation rejection).",
    ),
    # Master data — stewards
    _md(
        "SUPPLIER_UNKNOWN",
        "Supplier unknown",
        "No supplier matches the supplier code on the message.",
    ),
    _md("SUPPLIER_BLOCKED", "Supplier blocked", "The supplier exists but is blocked."),
    _md(
        "SUPPLIER_NOT_ENABLED",
        "Supplier not enabled for entity",
        "The supplier is not enabled for the legal entity.",
    ),
    _md("ITEM_UNKNOWN", "Item unknown", "No item matches the item identifier on the message."),
    _md("ITEM_NOT_CHARGEABLE", "Item not chargeable", "The item is not flagged chargeable."),
    _md(
        "UOM_CONVERSION_MISSING",
        "Unit conversion missing",
        "No conversion between the units of measure.",
    ),
    _md("COST_CENTER_INVALID", "Cost center invalid", "The cost center is unknown or inactive."),
    _md(
        "GL_ACCOUNT_INVALID",
        "GL account invalid",
        "The general-ledger account is unknown or inactive.",
    ),
    _md("FACILITY_UNKNOWN", "Facility unknown", "No facility matches the facility code."),
    _md(
        "MASTER_POSSIBLE_DUPLICATE",
        "Possible duplicate master record",
        "Two master records look like the same thing.",
    ),
    _md("AMBIGUOUS_MATCH", "Ambiguous match", "More than one master record matches the key."),
    _md(
        "VALUE_MAPPING_MISSING",
        "Value mapping missing",
        "No cross-reference exists for the external code.",
    ),
    # Procure-to-pay — accounts payable and supply chain
    _p2p(
        "PO_NOT_FOUND",
        "PO not found",
        "The invoice or receipt references an unknown purchase order.",
    ),
    _p2p("GR_MISSING", "Goods receipt missing", "The invoice has no matching goods receipt yet."),
    _p2p("PRICE_VARIANCE", "Price variance", "Invoice price differs from the PO beyond tolerance."),
    _p2p(
        "QTY_VARIANCE",
        "Quantity variance",
        "Invoiced quantity differs from the received quantity beyond tolerance.",
    ),
    _p2p(
        "AMOUNT_VARIANCE",
        "Amount variance",
        "Invoice amount differs from the matched amount beyond tolerance.",
    ),
    _p2p(
        "TAX_VARIANCE",
        "Tax variance",
        "Invoice tax differs from the expected tax beyond tolerance.",
    ),
    _p2p(
        "TERMS_MISMATCH",
        "Terms mismatch",
        "Invoice payment terms differ from the PO or supplier terms.",
    ),
    _p2p(
        "INVOICE_UNBALANCED",
        "Invoice unbalanced",
        "Invoice lines, charges and taxes do not add up to the total.",
    ),
    _p2p(
        "DUPLICATE_INVOICE",
        "Duplicate invoice",
        "The supplier sent an invoice number already received.",
    ),
    _p2p(
        "PO_ACK_CHANGED",
        "PO acknowledgment changed",
        "The supplier accepted the PO with changes.",
        "supply_chain",
    ),
    _p2p(
        "PO_ACK_REJECTED",
        "PO acknowledgment rejected",
        "The supplier rejected the PO.",
        "supply_chain",
    ),
    _p2p(
        "ASN_RECEIPT_MISMATCH",
        "ASN and receipt differ",
        "What was received differs from the ship notice.",
        "supply_chain",
    ),
    _p2p("OVER_RECEIPT", "Over-receipt", "More was received than ordered.", "supply_chain"),
    _p2p(
        "BILL_ONLY_PO_MISSING",
        "Bill-only PO missing",
        "A consigned implant was used without a bill-only PO.",
        "supply_chain",
    ),
    _p2p(
        "BUDGET_EXCEEDED",
        "Budget exceeded",
        "The requisition exceeds the cost-center budget.",
        "supply_chain",
    ),
    # Found by the reconciliation jobs (apps/p2p/reconciliation.py). No replay fixes them: the
    # supplier has to invoice or ship, so people chase, then resolve or ignore.
    _p2p(
        "RECEIPT_NOT_INVOICED",
        "Receipt not invoiced",
        "Goods were received on a PO but no invoice for them arrived in the allowed days.",
        actions=_WORK,
    ),
    _p2p(
        "SHIPMENT_OVERDUE",
        "Shipment overdue",
        "The supplier acknowledged the PO but nothing shipped or arrived in the allowed days.",
        "supply_chain",
        actions=_WORK,
    ),
    # Usage-to-charge — revenue integrity
    _u2c(
        "USAGE_WITHOUT_CHARGE",
        "Usage without charge",
        "A chargeable item was used but no charge followed in time.",
        S.HIGH,
    ),
    _u2c("CHARGE_WITHOUT_USAGE", "Charge without usage", "A supply charge has no recorded usage."),
    _u2c(
        "ISSUE_CHARGE_QTY_MISMATCH",
        "Issue and charge quantities differ",
        "Charged quantity differs from issued quantity.",
    ),
    _u2c("DUPLICATE_CHARGE", "Duplicate charge", "The same usage was charged twice."),
    _u2c("ZERO_AMOUNT_CHARGE", "Zero-amount charge", "A charge carries no amount."),
    _u2c("LATE_CHARGE", "Late charge", "The charge arrived after the billing cut-off."),
    _u2c(
        "IMPLANT_UDI_INCOMPLETE",
        "Implant UDI incomplete",
        "GTIN, lot, serial or expiry is missing for an implant.",
    ),
    _u2c(
        "LOT_EXPIRED_OR_RECALLED",
        "Lot expired or recalled",
        "The lot used is expired or under recall.",
        S.CRITICAL,
    ),
    _u2c(
        "CREDIT_WITHOUT_ORIGINAL",
        "Credit without original",
        "A credit refers to a charge that does not exist.",
    ),
    # Claims and remittance — billing
    _claims("REMIT_UNMATCHED", "Remittance unmatched", "A remittance line matches no claim."),
    _claims("REMIT_DENIAL", "Denial", "The payer denied the claim or line (see CARC/RARC)."),
    _claims(
        "PAYMENT_VARIANCE",
        "Payment variance",
        "The payment differs from the expected reimbursement.",
    ),
    _claims("REMIT_REVERSAL", "Reversal", "The payer reversed an earlier payment."),
    _claims(
        "CLAIM_NOT_PAID",
        "Claim not paid",
        "No payment arrived for the claim after the allowed days.",
    ),
    # Finance posting — finance
    _fin("POSTING_REJECTED", "Posting rejected by ERP", "The ERP refused the posting."),
    _fin("PERIOD_CLOSED", "Period closed", "The accounting period of the posting is closed."),
    _fin("DIMENSION_MISSING", "Dimension missing", "A required accounting dimension is missing."),
    _fin("JOURNAL_UNBALANCED", "Journal unbalanced", "Debits and credits of the journal differ."),
)

CODE_NAMES = frozenset(seed.code for seed in CODES)


class Codes:
    """Attribute access to catalogue codes used by services (e.g. ``Codes.PARSE_ERROR``)."""

    def __getattr__(self, name: str) -> str:
        if name in CODE_NAMES:
            return name
        raise AttributeError(f"{name} is not in the exception catalogue")


codes = Codes()
