"""The roles of DESIGN §9: each a Django group with exactly these permissions."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    slug: str
    name: str
    permissions: frozenset[str]
    staff: bool = False  # may open the Django admin


MASTERDATA_MODELS = (
    "externalsystem",
    "legalentity",
    "facility",
    "department",
    "costcenter",
    "glaccount",
    "serviceline",
    "fundingsource",
    "supplier",
    "suppliersite",
    "supplierenablement",
    "unitofmeasure",
    "uomconversion",
    "item",
    "vendorpart",
    "chargecode",
    "crossreference",
    "tolerancerule",
    "mergerecord",
)
_MASTERDATA_VIEW = frozenset(f"masterdata.view_{model}" for model in MASTERDATA_MODELS)
# Records are retired or merged, never deleted; merge records are written by the service only.
_MASTERDATA_EDIT = frozenset(
    f"masterdata.{action}_{model}"
    for model in MASTERDATA_MODELS
    if model != "mergerecord"
    for action in ("add", "change")
)

_VIEW = _MASTERDATA_VIEW | frozenset(
    {
        "pipeline.view_transaction",
        "pipeline.view_transactionevent",
        "exceptions.view_businessexception",
        "exceptions.view_exceptionactivity",
        "exceptions.view_exceptioncode",
        "exceptions.view_team",
        "connectors.view_connector",
        "connectors.view_connectorrun",
        "connectors.view_connectorstate",
        "edi.view_tradingpartner",
    }
    | {
        f"p2p.view_{model}"
        for model in (
            "purchaseorder",
            "purchaseorderline",
            "shipnotice",
            "shipnoticeline",
            "receipt",
            "receiptline",
            "invoice",
            "invoiceline",
            "apvoucher",
        )
    }
)
_WORK = _VIEW | {"exceptions.change_businessexception", "accounts.replay"}

VIEWER = Role("viewer", "Viewer", _VIEW)
AP_ANALYST = Role("ap_analyst", "AP analyst", _WORK | {"p2p.accept_variance"})
SUPPLY_CHAIN_ANALYST = Role("supply_chain_analyst", "Supply-chain analyst", _WORK)
REVENUE_INTEGRITY_ANALYST = Role(
    "revenue_integrity_analyst", "Revenue-integrity analyst", _WORK | {"accounts.view_payload"}
)
INTEGRATION_ENGINEER = Role(
    "integration_engineer",
    "Integration engineer",
    _WORK
    | {
        "accounts.view_payload",
        "accounts.edit_and_replay",
        "accounts.bulk_replay",
        "accounts.administer_connectors",
        "connectors.add_connector",
        "connectors.change_connector",
        "edi.add_tradingpartner",
        "edi.change_tradingpartner",
        "exceptions.change_exceptioncode",
    },
    staff=True,
)
DATA_STEWARD = Role(
    "data_steward",
    "Data steward",
    _WORK | _MASTERDATA_EDIT | {"accounts.fix_mapping", "accounts.approve_mapping"},
    staff=True,
)
AUDITOR = Role(
    "auditor",
    "Auditor",
    _VIEW | {"auditlog.view_logentry", "auth.view_user", "auth.view_group"},
    staff=True,
)
# The admin role receives every permission that exists, whatever later apps add: it alone
# issues and revokes status API tokens (accounts.add_apitoken, accounts.change_apitoken...).
ADMIN = Role("admin", "Administrator", frozenset({"*"}), staff=True)

ROLES = (
    VIEWER,
    AP_ANALYST,
    SUPPLY_CHAIN_ANALYST,
    REVENUE_INTEGRITY_ANALYST,
    INTEGRATION_ENGINEER,
    DATA_STEWARD,
    AUDITOR,
    ADMIN,
)
