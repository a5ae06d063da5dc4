"""The demo's master data: a deterministic health network, its cross-references and its flaws.

Two legal entities run 3 hospitals and 5 clinics. About 60 suppliers sell 3,000 items (300 of
them implants) that are charged through a 1,500-line chargemaster, and three external systems
(ERP, BILLING, PROCUREMENT) each name these records with their own codes. A few flaws are
planted on purpose so that the demo shows exceptions: procurement supplier codes nobody mapped,
a blocked supplier, suppliers not enabled for one legal entity, an implant not flagged
chargeable, an item without a unit conversion, a closed cost center, and duplicate suppliers
and items for the duplicate scan to find (``demo_network_plan().gaps`` names them all).

``demo_network_plan`` describes the network in plain Python (no database); the same records
every time: codes derive from positions in fixed lists and the few random figures (costs,
prices) come from a fixed seed. ``demo_network_build`` writes what is missing, so running it
again creates nothing, and is fast enough for the start command: bulk inserts, then one
duplicate scan.
"""

import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.services import demo_password, demo_users_ensure, role_group
from apps.core.errors import HubError
from apps.masterdata import cache
from apps.masterdata.choices import (
    AccountTypeChoices,
    ApprovalStatusChoices,
    FacilityKindChoices,
    RecordStatusChoices,
    SupplierStatusChoices,
    ToleranceLevelChoices,
    ToleranceMeasureChoices,
)
from apps.masterdata.models import (
    BEGINNING,
    ChargeCode,
    CostCenter,
    CrossReference,
    Department,
    ExternalSystem,
    Facility,
    FundingSource,
    GLAccount,
    Item,
    LegalEntity,
    ServiceLine,
    Supplier,
    SupplierEnablement,
    SupplierSite,
    ToleranceRule,
    UnitOfMeasure,
    UomConversion,
    VendorPart,
)
from apps.masterdata.services import (
    crossref_propose,
    duplicates_scan,
    normalized_name,
    tolerance_approve,
    tolerance_propose,
)

SEED = 20261121
ERP, BILLING, PROCUREMENT, X12 = "ERP", "BILLING", "PROCUREMENT", "X12"
PROPOSER, APPROVER = "erin", "sam"  # the two demo data stewards (maker and checker)
ITEM_COUNT, IMPLANT_COUNT, CHARGE_CODE_COUNT = 3000, 300, 1500
# Serialises concurrent runs (two launchers at once) so "insert what is missing" stays exact.
_LOCK_KEY = 0x4855_424E_4554  # "HUBNET"

SYSTEMS = (
    (ERP, "ERP", "General ledger, accounts payable, purchasing, inventory valuation."),
    (BILLING, "Billing", "Hospital billing: chargemaster, charges, claims."),
    (PROCUREMENT, "Procurement SaaS", "Requisitions and purchase orders, supplier portal."),
    (X12, "X12 trading partners", "Suppliers by interchange id (ISA qualifier:id)."),
)
# The suppliers that trade by EDI (distributors, who carry many parts under their own numbers)
# and their interchange ids; the simulated supplier plays them, HubConsole trades with them.
EDI_PARTNERS = {"medline": "MEDLINEEDI", "cardinal": "CARDINALEDI", "owens": "OWENSMINOREDI"}
UNITS = (("EA", "Each", "EACH"), ("BX", "Box", "BOX"), ("CS", "Case", "CASE"))
UNITS += (("PK", "Pack", "PACK"), ("DZ", "Dozen", "DOZEN"))

# --- The organisation ---------------------------------------------------------------------------

# code, name, ERP company
LEGAL_ENTITIES = (
    ("LE-NBH", "Northbridge Health System, Inc.", "1000"),
    ("LE-LMG", "Lakeshore Medical Group, LLC", "2000"),
)
# code, name, kind, legal entity, number (ERP business unit, billing facility, cost centers)
FACILITIES = (
    ("HOSP-NORTH", "Northbridge Regional Medical Center", "hospital", "LE-NBH", 11),
    ("HOSP-EAST", "Eastside Community Hospital", "hospital", "LE-NBH", 12),
    ("CLINIC-01", "Northbridge Family Medicine", "clinic", "LE-NBH", 13),
    ("CLINIC-02", "Eastside Orthopedic & Spine Clinic", "clinic", "LE-NBH", 14),
    ("CLINIC-03", "Riverside Cardiology Clinic", "clinic", "LE-NBH", 15),
    ("HOSP-SOUTH", "Lakeshore South Hospital", "hospital", "LE-LMG", 21),
    ("CLINIC-04", "Lakeshore Women's Health", "clinic", "LE-LMG", 22),
    ("CLINIC-05", "Lakeshore Urgent Care", "clinic", "LE-LMG", 23),
)
LOCATIONS = (("OR", "Operating rooms"), ("CS", "Central supply"))
# number, key, name; hospitals have all but the clinic ones, clinics the ones named below
DEPARTMENTS = (
    (1, "SURG", "Surgical services"),
    (2, "PACU", "Post-anesthesia care"),
    (3, "CATH", "Cardiac catheterization lab"),
    (4, "ED", "Emergency department"),
    (5, "RAD", "Radiology"),
    (6, "LAB", "Laboratory"),
    (7, "PHARM", "Pharmacy"),
    (8, "SPD", "Sterile processing"),
    (9, "MSURG", "Medical-surgical nursing"),
    (10, "ICU", "Intensive care"),
    (11, "MMAT", "Materials management"),
    (31, "CLIN", "Clinic operations"),
    (32, "IMG", "Imaging"),
    (33, "PROC", "Procedure room"),
)
CLINIC_DEPARTMENTS = {
    "CLINIC-01": ("CLIN",),
    "CLINIC-02": ("CLIN", "IMG", "PROC"),
    "CLINIC-03": ("CLIN", "PROC"),
    "CLINIC-04": ("CLIN", "IMG"),
    "CLINIC-05": ("CLIN",),
}
HOSPITAL_WITHOUT = {"HOSP-EAST": ("CATH",)}  # a community hospital without a cath lab
ADMIN_COST_CENTERS = ("Finance", "Supply chain management", "Information technology")
ADMIN_COST_CENTERS += ("Revenue cycle",)
SERVICE_LINES = (
    ("SL-ORTHO", "Orthopedics"),
    ("SL-CARD", "Cardiovascular"),
    ("SL-NEURO", "Neurosciences and spine"),
    ("SL-ONC", "Oncology"),
    ("SL-WH", "Women's health"),
    ("SL-GSURG", "General surgery"),
    ("SL-EMER", "Emergency medicine"),
    ("SL-PRIM", "Primary care"),
    ("SL-IMG", "Imaging"),
    ("SL-LAB", "Laboratory"),
    ("SL-OPHTH", "Ophthalmology"),
)
FUNDING_SOURCES = (
    ("FS-OPER", "Operating fund"),
    ("FS-CAP", "Capital fund"),
    ("FS-GRANT", "Research grants"),
    ("FS-PHIL", "Philanthropy"),
    ("FS-340B", "340B drug pricing program"),
)
_A = AccountTypeChoices
GL_ACCOUNTS = (
    ("11000", "Cash and cash equivalents", _A.ASSET),
    ("12000", "Patient accounts receivable", _A.ASSET),
    ("14100", "Medical-surgical supply inventory", _A.ASSET),
    ("14200", "Implant inventory", _A.ASSET),
    ("14250", "Consigned implants (memo)", _A.ASSET),
    ("14300", "Pharmacy inventory", _A.ASSET),
    ("20100", "Accounts payable", _A.LIABILITY),
    ("20200", "Goods received not invoiced", _A.LIABILITY),
    ("21000", "Accrued payroll", _A.LIABILITY),
    ("30000", "Net assets", _A.EQUITY),
    ("40100", "Inpatient revenue", _A.REVENUE),
    ("40200", "Outpatient revenue", _A.REVENUE),
    ("40300", "Supply charge revenue", _A.REVENUE),
    ("40400", "Implant charge revenue", _A.REVENUE),
    ("48000", "Contractual adjustments", _A.REVENUE),
    ("48100", "Denials write-off", _A.REVENUE),
    ("60100", "Salaries and wages", _A.EXPENSE),
    ("61000", "Medical supplies expense", _A.EXPENSE),
    ("61100", "Implants expense", _A.EXPENSE),
    ("61200", "Pharmaceuticals expense", _A.EXPENSE),
    ("61300", "Surgical instruments", _A.EXPENSE),
    ("62000", "Purchased services", _A.EXPENSE),
    ("63000", "Freight and delivery", _A.EXPENSE),
    ("64000", "Repairs and maintenance", _A.EXPENSE),
    ("69000", "Purchase price variance", _A.EXPENSE),
)

# --- Suppliers ----------------------------------------------------------------------------------

# key, legal name, city, state, payment terms, part-number prefix, brand on item descriptions.
# The position in this list is the supplier's number: canonical SUP-10001..., ERP vendor ids,
# procurement keys SUP-001...
SUPPLIERS = (
    ("medline", "Medline Industries Inc", "Northfield", "IL", "2/10NET30", "MDL", "Medline"),
    ("cardinal", "Cardinal Health 200 LLC", "Dublin", "OH", "NET30", "CAH", "Cardinal Health"),
    (
        "owens",
        "Owens & Minor Distribution Inc",
        "Mechanicsville",
        "VA",
        "NET30",
        "OMI",
        "Owens & Minor",
    ),
    ("mckesson", "McKesson Medical-Surgical Inc", "Richmond", "VA", "NET30", "MCK", "McKesson"),
    ("schein", "Henry Schein Inc", "Melville", "NY", "NET30", "HSI", "Henry Schein"),
    (
        "concordance",
        "Concordance Healthcare Solutions LLC",
        "Tiffin",
        "OH",
        "NET45",
        "CHS",
        "Concordance",
    ),
    ("boundtree", "Bound Tree Medical LLC", "Dublin", "OH", "NET30", "BTM", "Bound Tree"),
    ("bd", "Becton Dickinson and Company", "Franklin Lakes", "NJ", "NET60", "BDX", "BD"),
    ("bbraun", "B. Braun Medical Inc", "Bethlehem", "PA", "NET45", "BBM", "B. Braun"),
    ("baxter", "Baxter Healthcare Corporation", "Deerfield", "IL", "NET45", "BAX", "Baxter"),
    ("solventum", "Solventum Corporation", "Saint Paul", "MN", "NET45", "SOL", "3M"),
    ("ansell", "Ansell Healthcare Products LLC", "Iselin", "NJ", "NET30", "ANS", "Ansell"),
    ("apex", "Apex Surgical Supply LLC", "Newark", "NJ", "NET15", "APX", "Apex"),
    (
        "molnlycke",
        "Molnlycke Health Care US LLC",
        "Peachtree Corners",
        "GA",
        "NET45",
        "MHC",
        "Molnlycke",
    ),
    ("convatec", "ConvaTec Inc", "Bridgewater", "NJ", "NET45", "CNV", "ConvaTec"),
    ("coloplast", "Coloplast Corp", "Minneapolis", "MN", "NET30", "CPL", "Coloplast"),
    ("hollister", "Hollister Incorporated", "Libertyville", "IL", "NET30", "HOL", "Hollister"),
    ("teleflex", "Teleflex LLC", "Wayne", "PA", "NET45", "TFX", "Teleflex"),
    ("smiths", "Smiths Medical ASD Inc", "Minneapolis", "MN", "NET30", "SMA", "Smiths Medical"),
    ("icu", "ICU Medical Inc", "San Clemente", "CA", "NET45", "ICU", "ICU Medical"),
    ("cook", "Cook Medical LLC", "Bloomington", "IN", "NET30", "CMI", "Cook"),
    ("merit", "Merit Medical Systems Inc", "South Jordan", "UT", "NET30", "MMS", "Merit"),
    ("terumo", "Terumo Medical Corporation", "Somerset", "NJ", "NET45", "TMC", "Terumo"),
    ("ethicon", "Ethicon Inc", "Raritan", "NJ", "NET60", "ETH", "Ethicon"),
    ("covidien", "Covidien LP", "Mansfield", "MA", "NET60", "COV", "Covidien"),
    ("integra", "Integra LifeSciences Corporation", "Princeton", "NJ", "NET45", "ILS", "Integra"),
    ("dynarex", "Dynarex Corporation", "Montgomery", "NY", "NET30", "DYN", "Dynarex"),
    (
        "greiner",
        "Greiner Bio-One North America Inc",
        "Monroe",
        "NC",
        "NET30",
        "GBO",
        "Greiner Bio-One",
    ),
    ("sarstedt", "Sarstedt Inc", "Newton", "NC", "NET30", "SAR", "Sarstedt"),
    ("vyaire", "Vyaire Medical Inc", "Mettawa", "IL", "NET45", "VYA", "Vyaire"),
    ("fisher", "Fisher & Paykel Healthcare Inc", "Irvine", "CA", "NET30", "FPH", "Fisher & Paykel"),
    ("avanos", "Avanos Medical Inc", "Alpharetta", "GA", "NET45", "AVN", "Avanos"),
    ("stryker", "Howmedica Osteonics Corp", "Mahwah", "NJ", "NET60", "HOC", "Stryker"),
    ("zimmer", "Zimmer Biomet Inc", "Warsaw", "IN", "NET60", "ZBH", "Zimmer Biomet"),
    ("depuy", "DePuy Synthes Products Inc", "Raynham", "MA", "NET60", "DPS", "DePuy Synthes"),
    ("smithnephew", "Smith & Nephew Inc", "Memphis", "TN", "NET60", "SNN", "Smith & Nephew"),
    ("arthrex", "Arthrex Inc", "Naples", "FL", "NET45", "ARX", "Arthrex"),
    ("globus", "Globus Medical Inc", "Audubon", "PA", "NET45", "GMD", "Globus"),
    ("nuvasive", "NuVasive Inc", "San Diego", "CA", "NET45", "NUV", "NuVasive"),
    ("medtronic", "Medtronic USA Inc", "Minneapolis", "MN", "NET60", "MDT", "Medtronic"),
    (
        "bostonsci",
        "Boston Scientific Corporation",
        "Marlborough",
        "MA",
        "NET60",
        "BSC",
        "Boston Scientific",
    ),
    ("abbott", "Abbott Vascular Inc", "Santa Clara", "CA", "NET60", "ABV", "Abbott"),
    ("edwards", "Edwards Lifesciences LLC", "Irvine", "CA", "NET60", "EWL", "Edwards"),
    ("biotronik", "Biotronik Inc", "Lake Oswego", "OR", "NET45", "BIO", "Biotronik"),
    ("alcon", "Alcon Vision LLC", "Fort Worth", "TX", "NET45", "ALC", "Alcon"),
    ("bausch", "Bausch & Lomb Inc", "Bridgewater", "NJ", "NET45", "BLI", "Bausch + Lomb"),
    ("orthofix", "Orthofix US LLC", "Lewisville", "TX", "NET45", "OFX", "Orthofix"),
    ("medline_dup", "MEDLINE INDUSTRIES, LLC", "Northfield", "IL", "NET30", "MDX", "Medline"),
    ("exactech", "Exactech Inc", "Gainesville", "FL", "NET45", "EXA", "Exactech"),
    ("acumed", "Acumed LLC", "Hillsboro", "OR", "NET45", "ACU", "Acumed"),
    ("microport", "MicroPort Orthopedics Inc", "Arlington", "TN", "NET45", "MPO", "MicroPort"),
    ("sibone", "SI-BONE Inc", "Santa Clara", "CA", "NET30", "SIB", "SI-BONE"),
    ("djo", "DJO Surgical LLC", "Austin", "TX", "NET45", "DJO", "DJO"),
    ("stericycle", "Stericycle Inc", "Bannockburn", "IL", "NET30", "SRC", "Stericycle"),
    ("steris", "STERIS Corporation", "Mentor", "OH", "NET30", "STE", "STERIS"),
    ("airgas", "Airgas USA LLC", "Radnor", "PA", "NET30", "ARG", "Airgas"),
    ("crothall", "Crothall Healthcare Inc", "Wayne", "PA", "NET30", "CRH", "Crothall"),
    ("olympus", "Olympus America Inc", "Center Valley", "PA", "NET45", "OLY", "Olympus"),
    ("storz", "Karl Storz Endoscopy-America Inc", "El Segundo", "CA", "NET45", "KSE", "Karl Storz"),
    ("philips", "Philips North America LLC", "Cambridge", "MA", "NET45", "PHL", "Philips"),
)
SUPPLIER_NUMBER = {key: number for number, (key, *_) in enumerate(SUPPLIERS, start=1)}
DISTRIBUTORS = ("medline", "cardinal", "owens", "mckesson", "concordance")
BLOCKED = "apex"  # failed vendor credentialing
ENABLED_ONLY_FOR_FIRST_ENTITY = ("cook", "alcon", "sibone")
WITHOUT_PROCUREMENT_MAPPING = ("boundtree", "smiths")  # new in procurement, not mapped yet
PROPOSED_MAPPING = "smiths"  # ... of which one is proposed and waits for the second steward
SHARED_TAX_ID = ("covidien", "medtronic")  # a copied tax id: the duplicate scan flags it
NEAR_DUPLICATE = ("medline", "medline_dup")  # same company, entered twice


def supplier_code(key: str) -> str:
    return f"SUP-{10000 + SUPPLIER_NUMBER[key]}"


def erp_vendor_id(key: str) -> str:
    return f"V{10000 + 23 * SUPPLIER_NUMBER[key]}"


def procurement_supplier_key(key: str) -> str:
    # The same keys the demo traffic sends (sandbox_traffic: SUP-001...SUP-024).
    return f"SUP-{SUPPLIER_NUMBER[key]:03d}"


def tax_id(key: str) -> str:
    number = SUPPLIER_NUMBER["medtronic" if key == "covidien" else key]
    return f"{20 + number % 60:02d}-{3100000 + 7919 * number:07d}"


# --- The item catalogue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Items that differ only in size or make: one description template, the cross product of
    its axes, once per maker."""

    template: str
    axes: tuple[tuple, ...]
    makers: tuple[str, ...]
    cost: tuple[float, float]  # what one stocking unit costs, lowest and highest
    uom: str = "EA"  # the unit the item is bought in
    per_box: int = 1  # stocking units (EA) in one box or pack
    per_case: int = 0  # boxes in one case (0: not sold by the case)
    implant: bool = False
    serial: bool = False
    chargeable: bool = False
    revenue_code: str = ""
    hcpcs: str | dict = ""  # a code, or {first axis value: code}

    def variants(self) -> list[tuple]:
        return list(itertools.product(*self.axes))

    def hcpcs_for(self, values: tuple) -> str:
        return self.hcpcs.get(values[0], "") if isinstance(self.hcpcs, dict) else self.hcpcs


def _steps(start: float, stop: float, step: float) -> tuple:
    count = round((stop - start) / step) + 1
    return tuple(f"{start + n * step:g}" for n in range(count))


_JOINT = ("stryker", "zimmer", "depuy", "smithnephew", "exactech", "microport")
_TRAUMA = ("depuy", "stryker", "acumed", "zimmer")
_RHYTHM = ("medtronic", "bostonsci", "abbott", "biotronik")
_SPINE = ("globus", "nuvasive", "medtronic", "orthofix")
IMPLANT_FAMILIES = (
    Family(
        "Femoral stem, cementless, size {0}, {1} offset",
        (_steps(8, 18, 1), ("standard", "high")),
        _JOINT,
        (1800, 4200),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1776",
    ),
    Family(
        "Acetabular shell, {0} mm, {1}",
        (_steps(44, 66, 2), ("cluster-hole", "multi-hole")),
        _JOINT[:4],
        (1200, 2600),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1776",
    ),
    Family(
        "Tibial tray, size {0}, {1}",
        (_steps(1, 8, 1), ("cemented", "cementless")),
        _JOINT[:4],
        (1500, 3200),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1776",
    ),
    # Screws, plates and anchors are tracked by lot only.
    Family(
        "Cortical screw, {0} mm x {1} mm, self-tapping",
        (("2.7", "3.5", "4.5"), _steps(10, 58, 4)),
        _TRAUMA,
        (45, 180),
        implant=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1713",
    ),
    Family(
        "Locking plate, distal radius, {0}-hole, {1}",
        (_steps(3, 7, 1), ("left", "right")),
        _TRAUMA,
        (600, 1400),
        implant=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1713",
    ),
    Family(
        "Suture anchor, {0} mm, {1} sutures",
        (("2.9", "3.5", "4.5", "5.5"), ("1", "2", "3")),
        ("arthrex", "smithnephew", "depuy", "stryker"),
        (350, 900),
        implant=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1713",
    ),
    Family(
        "Drug-eluting coronary stent, {0} x {1} mm",
        (("2.25", "2.5", "2.75", "3.0", "3.5", "4.0"), ("8", "12", "15", "18", "23", "28")),
        ("bostonsci", "abbott", "medtronic"),
        (900, 1900),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1874",
    ),
    Family(
        "Pacemaker, dual chamber, MRI conditional, model {0}",
        (("A1", "A2", "A3"),),
        _RHYTHM,
        (4500, 9000),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1785",
    ),
    Family(
        "Pacing lead, bipolar, active fixation, {0} cm",
        (("45", "52", "58"),),
        _RHYTHM,
        (700, 1500),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1898",
    ),
    Family(
        "Lumbar interbody cage, {0} mm, {1} degrees",
        (_steps(8, 14, 1), ("6", "12")),
        _SPINE,
        (1600, 4800),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1889",
    ),
    Family(
        "Intraocular lens, posterior chamber, {0} D",
        (_steps(10, 30, 1),),
        ("alcon", "bausch"),
        (150, 450),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="V2632",
    ),
    Family(
        "Hernia mesh, {0}, {1} cm",
        (("polypropylene", "composite"), ("6 x 11", "10 x 15", "15 x 15", "15 x 20", "30 x 30")),
        ("covidien", "bd"),
        (120, 900),
        implant=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1781",
    ),
    Family(
        "Sacroiliac fusion implant, {0} x {1} mm",
        (("7.0", "10.0"), ("30", "40", "50", "60")),
        ("sibone",),
        (1900, 3100),
        implant=True,
        serial=True,
        chargeable=True,
        revenue_code="0278",
        hcpcs="C1889",
    ),
)

_GENERAL = ("medline", "cardinal", "dynarex", "mckesson")
_CARDIO = ("bostonsci", "abbott", "terumo", "cook", "merit")
SUPPLY_FAMILIES = (
    Family(
        "Nitrile exam gloves, powder-free, {1} cuff, size {0}",
        (("XS", "S", "M", "L", "XL", "XXL"), ("standard", "extended")),
        ("ansell", "medline", "cardinal", "mckesson", "dynarex", "owens", "schein"),
        (0.05, 0.12),
        uom="BX",
        per_box=100,
        per_case=10,
    ),
    Family(
        "Surgical gloves, latex-free, sterile, size {0}",
        (_steps(6, 8.5, 0.5),),
        ("ansell", "medline", "cardinal"),
        (0.9, 1.6),
        uom="BX",
        per_box=50,
        per_case=4,
    ),
    Family(
        "Syringe, {1}, {0} mL, sterile",
        (("0.5", "1", "3", "5", "10", "12", "20", "30", "35", "60"), ("Luer-Lok tip", "slip tip")),
        ("bd", "medline", "cardinal", "bbraun"),
        (0.08, 0.6),
        uom="BX",
        per_box=100,
        per_case=8,
    ),
    Family(
        "Hypodermic needle, {0} G x {1} in",
        (("18", "20", "21", "22", "23", "25", "26", "27", "30"), ("0.5", "0.625", "1", "1.5")),
        ("bd", "cardinal", "terumo"),
        (0.04, 0.15),
        uom="BX",
        per_box=100,
        per_case=10,
    ),
    Family(
        "IV catheter, safety, {0} G x {1} in",
        (("14", "16", "18", "20", "22", "24"), ("0.75", "1", "1.25", "1.88")),
        ("bd", "bbraun", "smiths", "terumo"),
        (1.2, 3.5),
        uom="BX",
        per_box=50,
        per_case=4,
    ),
    Family(
        "IV administration set, {0} drops/mL, {1} in",
        (("10", "15", "20", "60"), ("78", "92", "104", "110")),
        ("baxter", "bbraun", "icu", "bd"),
        (2.5, 7.0),
        uom="CS",
        per_box=48,
    ),
    Family(
        "Foley catheter, {0}, {1} Fr, {2} mL balloon",
        (("silicone", "latex"), ("12", "14", "16", "18", "20", "22"), ("5", "10")),
        ("bd", "medline", "coloplast", "teleflex"),
        (3.0, 11.0),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0272",
        hcpcs={"silicone": "A4344", "latex": "A4338"},
    ),
    Family(
        "Suture, {0}, {1}, {2} needle",
        (
            ("polyglactin 910", "polydioxanone", "nylon", "polypropylene", "silk", "chromic gut"),
            ("5-0", "4-0", "3-0", "2-0", "0", "1"),
            ("SH", "CT-1", "FS-2", "PS-2"),
        ),
        ("ethicon", "covidien"),
        (2.5, 9.0),
        uom="BX",
        per_box=36,
    ),
    Family(
        "Surgical gown, AAMI level {0}, size {1}, sterile",
        (("2", "3", "4"), ("M", "L", "XL", "XXL")),
        ("cardinal", "medline", "owens"),
        (2.0, 6.5),
        uom="CS",
        per_box=20,
    ),
    Family(
        "Foam dressing, {0}, {1} in",
        (("silicone border", "non-bordered"), ("2 x 2", "4 x 4", "6 x 6", "6 x 8", "8 x 8")),
        ("molnlycke", "convatec", "smithnephew", "solventum", "medline"),
        (3.0, 22.0),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0272",
        hcpcs={"silicone border": "A6212", "non-bordered": "A6209"},
    ),
    Family(
        "Ostomy pouch, drainable, {1}, {0} mm flange",
        (("38", "45", "57", "70"), ("one-piece", "two-piece")),
        ("coloplast", "convatec", "hollister"),
        (3.5, 8.0),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0272",
        hcpcs="A5061",
    ),
    Family(
        "Blood collection tube, {0} top, {1} mL",
        (
            ("lavender", "light blue", "gold", "green", "gray", "red"),
            ("2", "3", "4", "5", "6", "7", "8.5"),
        ),
        ("bd", "greiner", "sarstedt"),
        (0.1, 0.3),
        uom="BX",
        per_box=100,
        per_case=10,
    ),
    Family(
        "Sterile drape, {0}",
        (
            (
                "laparotomy",
                "laparoscopy",
                "extremity",
                "C-section",
                "cardiovascular",
                "craniotomy",
                "ophthalmic",
                "arthroscopy",
                "split sheet",
                "three-quarter sheet",
                "Mayo stand cover",
                "C-arm cover",
            ),
        ),
        ("cardinal", "medline", "owens", "molnlycke"),
        (4.0, 28.0),
        uom="CS",
        per_box=12,
    ),
    Family(
        "Chlorhexidine 2% / isopropyl alcohol 70% applicator, {0} mL",
        (("1", "3", "10.5", "26"),),
        ("bd", "medline", "solventum"),
        (0.6, 3.5),
        uom="CS",
        per_box=25,
    ),
    Family(
        "Electrosurgical pencil, {0}, {1} ft cord",
        (("rocker switch", "push button"), ("10", "15")),
        ("covidien", "medline", "cardinal"),
        (4.0, 9.0),
        uom="BX",
        per_box=40,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Surgical stapler reload, {0} mm, {1}",
        (("30", "45", "60"), ("white", "blue", "gold", "green", "black", "purple")),
        ("ethicon", "covidien"),
        (90, 220),
        uom="BX",
        per_box=6,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Guidewire, {0} in x {1} cm, {2} tip",
        (
            ("0.014", "0.018", "0.025", "0.035", "0.038"),
            ("150", "180", "260", "300"),
            ("straight", "angled"),
        ),
        _CARDIO,
        (45, 190),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
        hcpcs="C1769",
    ),
    Family(
        "Introducer sheath, {0} Fr x {1} cm",
        (("4", "5", "6", "7", "8", "9", "10"), ("7", "11", "25")),
        ("terumo", "cook", "merit", "teleflex"),
        (25, 95),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
        hcpcs="C1894",
    ),
    Family(
        "PTCA balloon catheter, {0} x {1} mm",
        (("2.0", "2.5", "3.0", "3.5", "4.0"), ("8", "12", "15", "20")),
        ("bostonsci", "abbott", "medtronic"),
        (180, 420),
        chargeable=True,
        revenue_code="0272",
        hcpcs="C1725",
    ),
    Family(
        "Diagnostic cardiac catheter, {0}, {1} Fr",
        (("JL4", "JR4", "AL1", "pigtail", "multipurpose"), ("4", "5", "6")),
        ("cook", "merit", "terumo"),
        (22, 60),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
        hcpcs="C1887",
    ),
    Family(
        "Underpad, {0} in, {1} absorbency",
        (("17 x 24", "23 x 36", "30 x 30", "30 x 36"), ("light", "heavy")),
        _GENERAL,
        (0.15, 0.8),
        uom="PK",
        per_box=10,
    ),
    Family(
        "Specimen container, {0} mL, sterile, screw cap",
        (("60", "90", "120", "150"),),
        ("medline", "cardinal", "sarstedt", "greiner"),
        (0.25, 0.9),
        uom="BX",
        per_box=100,
    ),
    Family(
        "Elastic bandage, {0} in x 5 yd, {1} closure",
        (("2", "3", "4", "6"), ("clip", "hook-and-loop")),
        ("medline", "dynarex", "mckesson", "solventum"),
        (0.8, 3.5),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0270",
        hcpcs={"2": "A6448", "3": "A6449", "4": "A6449", "6": "A6450"},
    ),
    Family(
        "Tracheostomy tube, {0}, size {1}",
        (("cuffed", "uncuffed"), ("4", "5", "6", "7", "8")),
        ("medtronic", "smiths", "teleflex"),
        (28, 85),
        chargeable=True,
        revenue_code="0272",
        hcpcs={"cuffed": "A7521", "uncuffed": "A7520"},
    ),
    Family(
        "Endotracheal tube, cuffed, {0} mm",
        (_steps(5, 9, 0.5),),
        ("medtronic", "teleflex", "smiths", "vyaire"),
        (1.5, 4.0),
        uom="BX",
        per_box=10,
    ),
    Family(
        "Oxygen nasal cannula, {0}, {1} ft tubing",
        (("adult", "pediatric", "infant"), ("7", "14", "25")),
        ("vyaire", "fisher", "medline", "teleflex"),
        (0.4, 1.8),
        uom="CS",
        per_box=50,
    ),
    Family(
        "Negative pressure wound therapy dressing kit, {0}",
        (("small", "medium", "large", "extra large"),),
        ("solventum", "smithnephew"),
        (38, 95),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
        hcpcs="A6550",
    ),
    Family(
        "Exam table paper, {0} in x {1} ft, {2}",
        (("18", "21"), ("125", "225"), ("smooth", "crepe")),
        _GENERAL,
        (3.0, 6.0),
        uom="CS",
        per_box=12,
    ),
    Family(
        "Alcohol prep pad, {0}, sterile",
        (("medium", "large"),),
        _GENERAL,
        (0.01, 0.04),
        uom="BX",
        per_box=200,
        per_case=10,
    ),
    Family(
        "Disposable safety scalpel, blade #{0}",
        (("10", "11", "15", "20", "21", "22"),),
        ("bd", "medline", "cardinal", "integra"),
        (1.1, 2.6),
        uom="BX",
        per_box=10,
    ),
    Family(
        "Arthroscopy shaver blade, {0} mm, {1}",
        (("3.5", "4.0", "4.5", "5.5"), ("full radius", "aggressive", "round burr")),
        ("arthrex", "smithnephew", "storz"),
        (85, 210),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Sterilization wrap, {0} in",
        (("15 x 15", "20 x 20", "24 x 24", "30 x 30", "36 x 36", "45 x 45"),),
        ("owens", "medline", "cardinal", "steris"),
        (0.4, 1.9),
        uom="CS",
        per_box=100,
    ),
    Family(
        "Endoscope cleaning brush, {0} mm channel",
        (("1.2", "2.0", "2.8", "3.2", "3.8", "4.2"),),
        ("olympus", "steris", "medline"),
        (0.9, 2.4),
        uom="BX",
        per_box=50,
    ),
    Family(
        "Enteral feeding tube, {0} Fr, {1} in",
        (("8", "10", "12", "14"), ("36", "43", "55")),
        ("avanos", "medline", "cardinal", "covidien"),
        (6.0, 19.0),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0272",
        hcpcs="B4081",
    ),
    Family(
        "Pulse oximetry sensor, {0}, single use",
        (("adult", "pediatric", "infant", "neonatal"),),
        ("medtronic", "philips", "covidien"),
        (6.0, 14.0),
        uom="BX",
        per_box=24,
    ),
    Family(
        "Compression stockings, knee-high, size {0}, {1} mmHg",
        (("S", "M", "L", "XL"), ("15-20", "20-30")),
        ("medline", "mckesson", "covidien", "dynarex"),
        (3.5, 9.0),
        uom="BX",
        per_box=12,
    ),
    Family(
        "Gauze sponge, {0} in, {1}-ply, {2}",
        (("2 x 2", "3 x 3", "4 x 4", "4 x 8"), ("4", "8", "12", "16"), ("sterile", "non-sterile")),
        ("medline", "cardinal", "dynarex", "mckesson", "owens"),
        (0.02, 0.2),
        uom="BX",
        per_box=200,
        per_case=10,
    ),
    Family(
        "Face mask, {0}",
        (
            (
                "ASTM level 1",
                "ASTM level 2",
                "ASTM level 3",
                "with eye shield",
                "N95, size small",
                "N95, size regular",
                "pediatric",
                "anti-fog",
            ),
        ),
        ("medline", "cardinal", "owens", "solventum", "mckesson", "dynarex"),
        (0.08, 1.2),
        uom="BX",
        per_box=50,
        per_case=10,
    ),
    Family(
        "Catheter securement device, {0}",
        (("Foley", "PICC", "arterial", "peripheral IV", "epidural"),),
        ("bd", "teleflex", "medline"),
        (2.5, 8.0),
        uom="BX",
        per_box=25,
    ),
    Family(
        "Skin stapler, {0} staples, {1}",
        (("15", "35"), ("regular", "wide")),
        ("ethicon", "covidien", "medline"),
        (9.0, 22.0),
        uom="BX",
        per_box=6,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Core biopsy needle, {0} G x {1} cm",
        (("14", "16", "18", "20"), ("10", "16", "20")),
        ("bd", "cook", "merit"),
        (35, 110),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Irrigation solution, {0}, {1} mL",
        (("sterile water", "0.9% sodium chloride"), ("250", "500", "1000", "1500", "3000")),
        ("baxter", "bbraun", "icu"),
        (1.5, 6.0),
        uom="CS",
        per_box=16,
    ),
    Family(
        "IV solution, {0}, {1} mL bag",
        (("0.9% sodium chloride", "lactated Ringer's", "dextrose 5%"), ("250", "500", "1000")),
        ("baxter", "bbraun", "icu"),
        (1.1, 3.2),
        uom="CS",
        per_box=24,
        chargeable=True,
        revenue_code="0258",
        hcpcs={
            "0.9% sodium chloride": "J7030",
            "lactated Ringer's": "J7120",
            "dextrose 5%": "J7070",
        },
    ),
    Family(
        "Surgical sponge, X-ray detectable, {0} in",
        (("4 x 4", "4 x 18", "12 x 12", "18 x 18"),),
        ("medline", "cardinal", "owens", "dynarex"),
        (0.2, 0.9),
        uom="PK",
        per_box=5,
    ),
    Family(
        "Sharps container, {0} qt, {1}",
        (("1", "2", "5", "8", "18"), ("red", "yellow", "clear")),
        ("bd", "medline", "stericycle", "cardinal"),
        (1.5, 9.0),
        uom="CS",
        per_box=20,
    ),
    Family(
        "Suction canister liner, {0} mL",
        (("1000", "1500", "2000", "3000"),),
        ("medline", "cardinal", "owens"),
        (1.2, 3.0),
        uom="CS",
        per_box=50,
    ),
    Family(
        "Yankauer suction tip, {0}, {1}",
        (("bulb", "flexible", "open", "vented"), ("with 6 ft tubing", "without tubing")),
        ("medline", "cardinal", "covidien"),
        (0.6, 2.2),
        uom="CS",
        per_box=50,
    ),
    Family(
        "ECG electrode, {0}, {1}",
        (("foam", "cloth", "radiolucent"), ("adult", "pediatric")),
        ("solventum", "cardinal", "philips", "medline"),
        (0.08, 0.3),
        uom="PK",
        per_box=30,
    ),
    Family(
        "Arterial line kit, {0}",
        (("20 G x 4.45 cm", "20 G x 8 cm", "22 G x 4.45 cm"),),
        ("teleflex", "icu", "bd"),
        (18, 42),
        uom="BX",
        per_box=10,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Central venous catheter kit, {0}-lumen, {1} Fr x {2} cm",
        (("1", "2", "3", "4"), ("5", "7", "8.5"), ("16", "20")),
        ("teleflex", "cook", "bd", "merit"),
        (48, 160),
        uom="BX",
        per_box=5,
        chargeable=True,
        revenue_code="0272",
        hcpcs="C1751",
    ),
    Family(
        "Chest drainage system, {0}",
        (("dry suction", "wet suction", "dry suction, dual collection", "mini"),),
        ("teleflex", "medline"),
        (45, 120),
        uom="CS",
        per_box=6,
        chargeable=True,
        revenue_code="0272",
    ),
    Family(
        "Adult brief, size {0}, {1} absorbency",
        (("S", "M", "L", "XL", "XXL"), ("moderate", "heavy", "overnight")),
        _GENERAL,
        (0.4, 1.3),
        uom="CS",
        per_box=80,
    ),
    Family(
        "Patient gown, {0}, {1} closure, {2}",
        (("print", "blue", "white"), ("snap", "tie"), ("regular", "bariatric")),
        ("medline", "cardinal", "crothall", "owens"),
        (1.8, 6.5),
        uom="CS",
        per_box=50,
    ),
    Family(
        "Blood pressure cuff, single patient use, {0}, {1}",
        (("infant", "child", "small adult", "adult", "large adult", "thigh"), ("1-tube", "2-tube")),
        ("philips", "medline", "cardinal"),
        (2.2, 6.0),
        uom="BX",
        per_box=20,
    ),
    Family(
        "Cast padding, {0} in x 4 yd, {1}",
        (("2", "3", "4", "6"), ("cotton", "synthetic")),
        ("medline", "dynarex", "solventum", "mckesson"),
        (0.5, 1.6),
        uom="BX",
        per_box=24,
    ),
    Family(
        "Transfer pipette, {0} mL, {1}",
        (("1", "3", "7"), ("sterile", "non-sterile")),
        ("greiner", "sarstedt", "medline"),
        (0.03, 0.12),
        uom="BX",
        per_box=500,
    ),
)
assert sum(len(f.variants()) * len(f.makers) for f in IMPLANT_FAMILIES) >= IMPLANT_COUNT
assert sum(len(f.variants()) * len(f.makers) for f in SUPPLY_FAMILIES) >= ITEM_COUNT - IMPLANT_COUNT


# Chargemaster lines for services rather than items: (description, revenue code, CPT/HCPCS,
# lowest and highest price). Priced per hospital once the item lines leave room for it.
SERVICES = (
    ("Basic metabolic panel", "0301", "80048", 60, 140),
    ("Comprehensive metabolic panel", "0301", "80053", 80, 210),
    ("Lipid panel", "0301", "80061", 70, 160),
    ("Hepatic function panel", "0301", "80076", 60, 150),
    ("Urinalysis, automated, with microscopy", "0300", "81001", 25, 60),
    ("Glucose, quantitative, blood", "0301", "82947", 18, 45),
    ("Hemoglobin A1c", "0301", "83036", 40, 95),
    ("Thyroid stimulating hormone", "0301", "84443", 70, 180),
    ("Troponin, quantitative", "0301", "84484", 80, 190),
    ("Natriuretic peptide (BNP)", "0301", "83880", 110, 260),
    ("Magnesium", "0301", "83735", 25, 60),
    ("Vitamin D, 25-hydroxy", "0301", "82306", 110, 240),
    ("Complete blood count with differential", "0305", "85025", 35, 95),
    ("Prothrombin time", "0305", "85610", 20, 55),
    ("Partial thromboplastin time", "0305", "85730", 30, 75),
    ("Blood typing, ABO", "0302", "86900", 25, 60),
    ("Blood typing, Rh (D)", "0302", "86901", 25, 60),
    ("Hepatitis C antibody", "0302", "86803", 45, 110),
    ("HIV-1/2 antigen and antibody", "0302", "87389", 55, 130),
    ("Blood culture", "0306", "87040", 60, 150),
    ("Urine culture, colony count", "0306", "87086", 40, 95),
    ("Influenza assay, rapid", "0306", "87804", 40, 95),
    ("SARS-CoV-2, amplified probe", "0306", "87635", 90, 210),
    ("Venipuncture", "0300", "36415", 10, 30),
    ("Chest x-ray, 1 view", "0320", "71045", 90, 240),
    ("Chest x-ray, 2 views", "0320", "71046", 120, 310),
    ("Shoulder x-ray, 2 or more views", "0320", "73030", 140, 330),
    ("Knee x-ray, 1 or 2 views", "0320", "73560", 120, 300),
    ("Ankle x-ray, 3 or more views", "0320", "73610", 140, 320),
    ("Lumbar spine x-ray, 2 or 3 views", "0320", "72100", 160, 380),
    ("CT head without contrast", "0350", "70450", 900, 2600),
    ("CT chest without contrast", "0350", "71250", 1100, 2900),
    ("CT abdomen and pelvis with contrast", "0350", "74177", 1800, 4200),
    ("MRI brain without contrast", "0610", "70551", 1600, 3800),
    ("MRI lumbar spine without contrast", "0610", "72148", 1500, 3600),
    ("MRI knee without contrast", "0610", "73721", 1400, 3300),
    ("Ultrasound, abdomen, complete", "0402", "76700", 450, 1100),
    ("Ultrasound, pelvis, complete", "0402", "76856", 400, 950),
    ("Screening mammography, bilateral", "0403", "77067", 250, 520),
    ("Echocardiogram, transthoracic, complete", "0483", "93306", 1200, 2800),
    ("Electrocardiogram, 12 lead", "0730", "93000", 90, 240),
    ("Emergency department visit, level 1", "0450", "99281", 180, 420),
    ("Emergency department visit, level 2", "0450", "99282", 320, 700),
    ("Emergency department visit, level 3", "0450", "99283", 600, 1300),
    ("Emergency department visit, level 4", "0450", "99284", 1100, 2300),
    ("Emergency department visit, level 5", "0450", "99285", 1900, 3900),
    ("Critical care, first hour", "0450", "99291", 2500, 5200),
    ("Hospital outpatient clinic visit", "0510", "G0463", 150, 380),
    ("Therapeutic injection, subcutaneous or intramuscular", "0510", "96372", 60, 160),
    ("Observation, per hour", "0762", "G0378", 90, 180),
    ("Room and board, private, medical-surgical", "0110", "", 2200, 3600),
    ("Room and board, semi-private, medical-surgical", "0120", "", 1900, 3200),
    ("Intensive care, general", "0200", "", 4800, 8200),
    ("Intensive care, step-down", "0206", "", 3400, 5600),
    ("Operating room services, level 1, first 30 minutes", "0360", "", 1800, 2600),
    ("Operating room services, level 2, first 30 minutes", "0360", "", 2600, 3600),
    ("Operating room services, level 3, first 30 minutes", "0360", "", 3400, 4800),
    ("Operating room services, level 4, first 30 minutes", "0360", "", 4300, 6100),
    ("Operating room services, level 5, first 30 minutes", "0360", "", 5200, 7400),
    ("Operating room services, each additional 15 minutes", "0360", "", 700, 1300),
    ("Recovery room, first 30 minutes", "0710", "", 600, 1100),
    ("Recovery room, each additional 15 minutes", "0710", "", 180, 360),
    ("Anesthesia, first 30 minutes", "0370", "", 900, 1800),
    ("Anesthesia, each additional 15 minutes", "0370", "", 250, 520),
    ("Left heart catheterization with coronary angiography", "0481", "93458", 6500, 12000),
    ("Percutaneous coronary intervention with stent, single vessel", "0481", "92928", 14000, 26000),
    ("Pacemaker insertion, dual chamber", "0360", "33208", 12000, 22000),
    ("Total hip arthroplasty", "0360", "27130", 16000, 30000),
    ("Total knee arthroplasty", "0360", "27447", 16000, 30000),
    ("Physical therapy evaluation, low complexity", "0420", "97161", 180, 360),
    ("Therapeutic exercise, each 15 minutes", "0420", "97110", 70, 160),
    ("Manual therapy, each 15 minutes", "0420", "97140", 70, 160),
    ("Occupational therapy evaluation, low complexity", "0430", "97165", 180, 360),
    ("Speech treatment", "0440", "92507", 160, 320),
    ("Nebulizer treatment", "0410", "94640", 60, 150),
    ("Pulse oximetry, single determination", "0410", "94760", 20, 50),
    ("Ventilation management, initial day", "0410", "94002", 500, 1100),
    ("Dexamethasone sodium phosphate, 1 mg", "0636", "J1100", 5, 15),
    ("Ondansetron, 1 mg", "0636", "J2405", 4, 12),
    ("Ceftriaxone, 250 mg", "0636", "J0696", 18, 45),
    ("Ketorolac, 15 mg", "0636", "J1885", 8, 25),
    ("Fentanyl citrate, 0.1 mg", "0636", "J3010", 10, 30),
    ("Morphine sulfate, up to 10 mg", "0636", "J2270", 10, 30),
    ("Hydromorphone, up to 4 mg", "0636", "J1170", 12, 35),
    ("Acetaminophen, 10 mg, intravenous", "0636", "J0131", 1, 4),
    ("Midazolam, 1 mg", "0636", "J2250", 4, 12),
    ("Heparin sodium, 1,000 units", "0636", "J1644", 3, 10),
)

# --- The plan -----------------------------------------------------------------------------------

BRAND = {key: brand for key, *_, brand in SUPPLIERS}
PART_PREFIX = {key: prefix for key, *_, prefix, _ in SUPPLIERS}
FACILITY_NUMBER = {code: number for code, _, _, _, number in FACILITIES}
FACILITY_ENTITY = {code: entity for code, _, _, entity, _ in FACILITIES}
COMPANY = {code: company for code, _, company in LEGAL_ENTITIES}
INACTIVE_COST_CENTER = ("HOSP-EAST", 10)  # the community hospital closed its ICU


def erp_item_number(number: int) -> str:
    return f"{1000000 + number}"


def procurement_item_key(number: int) -> str:
    # The same keys the demo traffic sends (sandbox_traffic: ITEM-00001...ITEM-03000).
    return f"ITEM-{number:05d}"


def department_code(facility: str, key: str) -> str:
    return f"{facility}-{key}"


def erp_cost_center(facility: str, department_number: int) -> str:
    company = COMPANY[FACILITY_ENTITY[facility]]
    return f"{company}-{FACILITY_NUMBER[facility] * 100 + department_number}"


def gtin14(body: str) -> str:
    """A 13-digit body with its GS1 check digit (weights 3, 1, 3... from the right)."""
    total = sum(int(digit) * (3 if n % 2 == 0 else 1) for n, digit in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    gtin: str
    uom: str  # the unit it is bought in; every item is stocked in EA
    per_box: int
    per_case: int
    implant: bool
    serial: bool
    chargeable: bool
    maker: str
    part_number: str
    number: int  # 1-based position: procurement key ITEM-00042, ERP item number 1000042
    cost: float
    revenue_code: str
    hcpcs: str


@dataclass(frozen=True)
class ChargeSpec:
    code: str
    description: str
    revenue_code: str
    cpt_hcpcs: str
    price: Decimal
    billing_code: str


@dataclass(frozen=True)
class CostCenterSpec:
    code: str
    name: str
    legal_entity: str
    facility: str | None
    department: str | None
    erp_code: str
    active: bool


@dataclass(frozen=True)
class XrefSpec:
    system: str
    entity_type: str
    external_code: str
    model: type
    target_code: str


@dataclass(frozen=True)
class Gaps:
    """The flaws planted on purpose, and the codes a flow meets them by."""

    unknown_procurement_suppliers: tuple[str, ...]  # SUPPLIER_UNKNOWN
    proposed_procurement_supplier: str  # unknown until its draft mapping is approved
    blocked_procurement_supplier: str  # SUPPLIER_BLOCKED
    not_enabled_procurement_suppliers: tuple[str, ...]  # SUPPLIER_NOT_ENABLED for...
    not_enabled_legal_entity: str  # ...this legal entity (canonical code)
    not_chargeable_implant: str  # procurement key; ITEM_NOT_CHARGEABLE
    unknown_procurement_items: tuple[str, ...]  # ITEM_UNKNOWN
    item_without_conversion: str  # canonical code; UOM_CONVERSION_MISSING from BX to EA
    inactive_erp_cost_center: str  # COST_CENTER_INVALID
    duplicate_suppliers: tuple[tuple[str, str], ...]  # canonical codes of the planted pairs
    duplicate_items: tuple[tuple[str, str], ...]


@dataclass
class NetworkPlan:
    departments: list[tuple[str, str, str]]  # code, name, facility
    cost_centers: list[CostCenterSpec]
    items: list[ItemSpec]
    charges: list[ChargeSpec]
    item_charge: dict[str, str]  # item code -> charge code
    gaps: Gaps
    xrefs: list[XrefSpec] = field(default_factory=list)


def _round_robin(families: tuple[Family, ...], count: int) -> list[tuple[Family, int, tuple, str]]:
    """``count`` (family, variant number, variant, maker), taken from each family in turn so
    that every family is represented."""
    queues = [
        [
            (family, number, values, maker)
            for number, values in enumerate(family.variants())
            for maker in family.makers
        ]
        for family in families
    ]
    picked: list = []
    for row in itertools.zip_longest(*queues):
        picked.extend(entry for entry in row if entry is not None)
    return picked[:count]


def _departments() -> list[tuple[str, str, str, int]]:
    """(code, name, facility, department number) for every department."""
    rows = []
    for facility, _, kind, _, _ in FACILITIES:
        for number, key, name in DEPARTMENTS:
            if kind == "hospital":
                wanted = number < 30 and key not in HOSPITAL_WITHOUT.get(facility, ())
            else:
                wanted = key in CLINIC_DEPARTMENTS[facility]
            if wanted:
                rows.append((department_code(facility, key), name, facility, number))
    return rows


def _cost_centers(departments: list[tuple[str, str, str, int]]) -> list[CostCenterSpec]:
    centers = [
        CostCenterSpec(
            code=f"CC-{FACILITY_NUMBER[facility] * 100 + number}",
            name=f"{facility} {name}",
            legal_entity=FACILITY_ENTITY[facility],
            facility=facility,
            department=code,
            erp_code=erp_cost_center(facility, number),
            active=(facility, number) != INACTIVE_COST_CENTER,
        )
        for code, name, facility, number in departments
    ]
    for entity, name, company in LEGAL_ENTITIES:
        for offset, purpose in enumerate(ADMIN_COST_CENTERS):
            number = int(company[0]) * 1000 + 900 + offset
            centers.append(
                CostCenterSpec(
                    f"CC-{number}",
                    f"{name.split(',')[0]} {purpose}",
                    entity,
                    None,
                    None,
                    f"{company}-{number}",
                    True,
                )
            )
    return centers


def _items(rng: random.Random) -> tuple[list[ItemSpec], dict[str, ItemSpec]]:
    """3,000 items, the planted ones included; also returns the planted ones by role."""
    picked = _round_robin(IMPLANT_FAMILIES, IMPLANT_COUNT)
    picked += _round_robin(SUPPLY_FAMILIES, ITEM_COUNT - IMPLANT_COUNT - 2)
    families = IMPLANT_FAMILIES + SUPPLY_FAMILIES
    items = []
    for number, (family, variant, values, maker) in enumerate(picked, start=1):
        supplier_number = SUPPLIER_NUMBER[maker]
        items.append(
            ItemSpec(
                code=f"ITM-{100000 + number}",
                name=f"{family.template.format(*values)} ({BRAND[maker]})",
                gtin=gtin14(f"0{3000000 + 4099 * supplier_number:07d}{number:05d}"),
                uom=family.uom,
                per_box=family.per_box,
                per_case=family.per_case,
                implant=family.implant,
                serial=family.serial,
                chargeable=family.chargeable,
                maker=maker,
                part_number=f"{PART_PREFIX[maker]}-{families.index(family) + 1:02d}{variant:03d}",
                number=number,
                cost=rng.uniform(*family.cost),
                revenue_code=family.revenue_code,
                hcpcs=family.hcpcs_for(values),
            )
        )

    def first(prefix: str) -> int:
        return next(n for n, item in enumerate(items) if item.name.startswith(prefix))

    # An implant nobody flagged chargeable: its use cannot be charged.
    screw = first("Cortical screw")
    items[screw] = replace(items[screw], chargeable=False)
    # The same gloves entered twice by an old import: same GTIN, another description.
    gloves = items[first("Nitrile exam gloves")]
    size = gloves.name.split("size ")[1].split(" ")[0]
    copy_gtin = replace(
        gloves,
        code=f"ITM-{100000 + ITEM_COUNT - 1}",
        name=f"GLOVE EXAM NITRILE PF {size} ({BRAND[gloves.maker].upper()})",
        part_number=gloves.part_number + "-OLD",
        number=ITEM_COUNT - 1,
    )
    # The same syringe twice: the supplier's part number typed without its dash, no GTIN.
    syringe = items[first("Syringe")]
    copy_part = replace(
        syringe,
        code=f"ITM-{100000 + ITEM_COUNT}",
        name=syringe.name.replace("Syringe,", "Syringe (catalog copy),"),
        gtin="",
        part_number=syringe.part_number.replace("-", ""),
        number=ITEM_COUNT,
    )
    items += [copy_gtin, copy_part]
    planted = {
        "not_chargeable": items[screw],
        # Bought by the box, and nobody entered how many are in one.
        "without_conversion": items[first("Specimen container")],
        "gloves": gloves,
        "gloves_copy": copy_gtin,
        "syringe": syringe,
        "syringe_copy": copy_part,
    }
    return items, planted


def _chargemaster(
    items: list[ItemSpec], rng: random.Random
) -> tuple[list[ChargeSpec], dict[str, str]]:
    """One line per chargeable item, then service lines (per hospital once the general ones
    are used up) to 1,500 lines."""
    charges: list[ChargeSpec] = []
    per_revenue_code: Counter = Counter()

    def line(description: str, revenue_code: str, cpt: str, price: float) -> str:
        per_revenue_code[revenue_code] += 1
        code = f"{revenue_code[1:]}{per_revenue_code[revenue_code]:05d}"
        charges.append(
            ChargeSpec(
                code=code,
                description=description[:200],
                revenue_code=revenue_code,
                cpt_hcpcs=cpt,
                price=Decimal(f"{price:.2f}"),
                billing_code=str(4100000 + 7 * len(charges)),
            )
        )
        return code

    item_charge = {}
    for item in items:
        if item.chargeable:
            markup = 3.0 if item.implant else rng.uniform(3.5, 5.0)
            kind = "IMPLANT" if item.implant else "SUPPLY"
            item_charge[item.code] = line(
                f"{kind} {item.name}", item.revenue_code, item.hcpcs, item.cost * markup
            )
    hospitals = [code for code, _, kind, _, _ in FACILITIES if kind == "hospital"]
    services = [(service, "") for service in SERVICES]
    services += [(service, f" ({code})") for service in SERVICES for code in hospitals]
    for (description, revenue_code, cpt, low, high), where in services:
        if len(charges) == CHARGE_CODE_COUNT:
            break
        line(description + where, revenue_code, cpt, rng.uniform(low, high))
    if len(charges) != CHARGE_CODE_COUNT:
        raise AssertionError(f"the chargemaster has {len(charges)} lines, not 1,500")
    return charges, item_charge


def demo_network_plan() -> NetworkPlan:
    """The whole network as plain data, the same on every call."""
    rng = random.Random(SEED)
    departments = _departments()
    cost_centers = _cost_centers(departments)
    items, planted = _items(rng)
    charges, item_charge = _chargemaster(items, rng)
    unknown_items = tuple(procurement_item_key(n) for n in (1187, 2245, 2873))
    gaps = Gaps(
        unknown_procurement_suppliers=(
            *(
                procurement_supplier_key(k)
                for k in WITHOUT_PROCUREMENT_MAPPING
                if k != PROPOSED_MAPPING
            ),
            *("SUP-061", "SUP-062"),  # suppliers procurement knows and the master does not
        ),
        proposed_procurement_supplier=procurement_supplier_key(PROPOSED_MAPPING),
        blocked_procurement_supplier=procurement_supplier_key(BLOCKED),
        not_enabled_procurement_suppliers=tuple(
            procurement_supplier_key(key) for key in ENABLED_ONLY_FOR_FIRST_ENTITY
        ),
        not_enabled_legal_entity=LEGAL_ENTITIES[1][0],
        not_chargeable_implant=procurement_item_key(planted["not_chargeable"].number),
        unknown_procurement_items=unknown_items,
        item_without_conversion=planted["without_conversion"].code,
        inactive_erp_cost_center=erp_cost_center(*INACTIVE_COST_CENTER),
        duplicate_suppliers=(
            (supplier_code(NEAR_DUPLICATE[0]), supplier_code(NEAR_DUPLICATE[1])),
            tuple(sorted(supplier_code(key) for key in SHARED_TAX_ID)),
        ),
        duplicate_items=(
            (planted["gloves"].code, planted["gloves_copy"].code),
            (planted["syringe"].code, planted["syringe_copy"].code),
        ),
    )
    plan = NetworkPlan(
        departments=[(code, name, facility) for code, name, facility, _ in departments],
        cost_centers=cost_centers,
        items=items,
        charges=charges,
        item_charge=item_charge,
        gaps=gaps,
    )
    plan.xrefs = _cross_references(plan)
    return plan


def _cross_references(plan: NetworkPlan) -> list[XrefSpec]:
    """Each system's own codes for the records it uses."""
    xrefs: list[XrefSpec] = []

    def add(system: str, entity_type: str, model: type, pairs) -> None:
        xrefs.extend(XrefSpec(system, entity_type, ext, model, code) for ext, code in pairs)

    # ERP: company codes, business units, cost centers, natural accounts, vendor ids, items.
    add(ERP, "legal_entity", LegalEntity, [(company, code) for code, _, company in LEGAL_ENTITIES])
    add(ERP, "facility", Facility, [(f"BU{n}0", code) for code, *_, n in FACILITIES])
    add(ERP, "cost_center", CostCenter, [(c.erp_code, c.code) for c in plan.cost_centers])
    add(
        ERP,
        "gl_account",
        GLAccount,
        [
            (f"{company}.{natural}", f"GL-{company}-{natural}")
            for _, _, company in LEGAL_ENTITIES
            for natural, _, _ in GL_ACCOUNTS
        ],
    )
    add(
        ERP,
        "service_line",
        ServiceLine,
        [(f"SVC{10 * n:03d}", c) for n, (c, _) in enumerate(SERVICE_LINES, start=1)],
    )
    add(
        ERP,
        "funding_source",
        FundingSource,
        [(f"FUND{n:02d}", c) for n, (c, _) in enumerate(FUNDING_SOURCES, start=1)],
    )
    add(
        ERP,
        "supplier",
        Supplier,
        [(erp_vendor_id(key), supplier_code(key)) for key, *_ in SUPPLIERS],
    )
    add(ERP, "item", Item, [(erp_item_number(item.number), item.code) for item in plan.items])
    add(ERP, "uom", UnitOfMeasure, [(erp, code) for code, _, erp in UNITS])
    # Procurement: the facility mnemonics and supplier and item keys the demo traffic uses.
    add(PROCUREMENT, "facility", Facility, [(code, code) for code, *_ in FACILITIES])
    add(
        PROCUREMENT,
        "supplier",
        Supplier,
        [
            (procurement_supplier_key(key), supplier_code(key))
            for key, *_ in SUPPLIERS
            if key not in WITHOUT_PROCUREMENT_MAPPING
        ],
    )
    add(
        PROCUREMENT,
        "item",
        Item,
        [
            (procurement_item_key(item.number), item.code)
            for item in plan.items
            if procurement_item_key(item.number) not in plan.gaps.unknown_procurement_items
        ],
    )
    add(PROCUREMENT, "uom", UnitOfMeasure, [(code, code) for code, *_ in UNITS])
    # EDI: which supplier each trading partner's interchange id is.
    add(
        X12,
        "supplier",
        Supplier,
        [(f"ZZ:{isa_id}", supplier_code(key)) for key, isa_id in EDI_PARTNERS.items()],
    )
    # Billing: its facility ids, revenue departments and its own chargemaster numbers.
    add(BILLING, "facility", Facility, [(f"F{n}", code) for code, *_, n in FACILITIES])
    add(
        BILLING,
        "department",
        Department,
        [
            (f"{FACILITY_NUMBER[facility]}{index:03d}", code)
            for index, (code, _, facility) in enumerate(plan.departments, start=1)
        ],
    )
    add(BILLING, "charge_code", ChargeCode, [(c.billing_code, c.code) for c in plan.charges])
    return xrefs


# --- Writing it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSummary:
    created: dict[str, int]  # rows inserted by this run, per model
    counts: dict[str, int]  # what the network holds now
    duplicate_pairs: int | None  # what the duplicate scan found (None: not run, nothing new)
    seconds: float

    def line(self) -> str:
        c = self.counts
        systems = ", ".join(f"{s} {c['xrefs_' + s]:,}" for s, _, _ in SYSTEMS)
        network = (
            f"demo network: {c['legal_entities']} legal entities, {c['hospitals']} hospitals, "
            f"{c['clinics']} clinics, {c['suppliers']} suppliers, {c['items']:,} items "
            f"({c['implants']} implants), {c['charge_codes']:,} charge codes, "
            f"{c['xrefs']:,} approved cross-references ({systems}), "
            f"{c['tolerance_rules']} tolerance rules"
        )
        total = sum(self.created.values())
        if not total:
            return f"{network}; complete already, nothing created ({self.seconds:.1f} s)"
        return (
            f"{network}; created {total:,} rows, {self.duplicate_pairs} possible duplicates "
            f"({self.seconds:.1f} s)"
        )


class _Writer:
    """Inserts the rows whose natural key is not in the table yet; counts what it inserted."""

    def __init__(self):
        self.created: Counter = Counter()

    def ensure(self, model, rows: list, *key: str) -> None:
        wanted = {tuple(getattr(row, name) for name in key): row for row in rows}
        if len(wanted) != len(rows):
            raise AssertionError(f"the plan repeats a {model.__name__} key")
        existing = set(model.objects.values_list(*key))
        missing = [row for k, row in wanted.items() if k not in existing]
        model.objects.bulk_create(missing, batch_size=2000)
        self.created[model.__name__] += len(missing)


def _ids(model, **filters) -> dict[str, int]:
    return dict(model.objects.filter(**filters).values_list("code", "id"))


def _stewards() -> tuple[User, User]:
    """Erin proposes, Sam approves: maker-checker needs two data stewards."""
    if not User.objects.filter(username=PROPOSER).exists():
        demo_users_ensure()
    proposer = User.objects.get(username=PROPOSER)
    approver, new = User.objects.get_or_create(
        username=APPROVER,
        defaults={"first_name": "Sam", "last_name": "Silva", "email": f"{APPROVER}@example.org"},
    )
    if new:
        approver.set_password(demo_password(APPROVER))
        approver.is_staff = roles.DATA_STEWARD.staff
        approver.save()
    approver.groups.add(role_group(roles.DATA_STEWARD))
    return proposer, approver


def _organisation(plan: NetworkPlan, w: _Writer) -> None:
    w.ensure(
        ExternalSystem,
        [ExternalSystem(code=c, name=n, description=d) for c, n, d in SYSTEMS],
        "code",
    )
    w.ensure(UnitOfMeasure, [UnitOfMeasure(code=c, name=n) for c, n, _ in UNITS], "code")
    w.ensure(LegalEntity, [LegalEntity(code=c, name=n) for c, n, _ in LEGAL_ENTITIES], "code")
    entity = _ids(LegalEntity)
    w.ensure(
        Facility,
        [
            Facility(code=code, name=name, kind=kind, legal_entity_id=entity[le])
            for code, name, kind, le, _ in FACILITIES
        ],
        "code",
    )
    facility = _ids(Facility)
    w.ensure(
        Facility,
        [
            Facility(
                code=f"{code}-{suffix}",
                name=f"{name}, {place.lower()}",
                kind=FacilityKindChoices.LOCATION,
                parent_id=facility[code],
                legal_entity_id=entity[le],
            )
            for code, name, kind, le, _ in FACILITIES
            if kind == FacilityKindChoices.HOSPITAL
            for suffix, place in LOCATIONS
        ],
        "code",
    )
    w.ensure(
        Department,
        [Department(code=c, name=n, facility_id=facility[f]) for c, n, f in plan.departments],
        "code",
    )
    w.ensure(ServiceLine, [ServiceLine(code=c, name=n) for c, n in SERVICE_LINES], "code")
    w.ensure(FundingSource, [FundingSource(code=c, name=n) for c, n in FUNDING_SOURCES], "code")
    department = _ids(Department)
    w.ensure(
        CostCenter,
        [
            CostCenter(
                code=cc.code,
                name=cc.name,
                legal_entity_id=entity[cc.legal_entity],
                facility_id=facility.get(cc.facility),
                department_id=department.get(cc.department),
                status=RecordStatusChoices.ACTIVE if cc.active else RecordStatusChoices.INACTIVE,
            )
            for cc in plan.cost_centers
        ],
        "code",
    )
    w.ensure(
        GLAccount,
        [
            GLAccount(
                code=f"GL-{company}-{natural}",
                name=name,
                account_type=account_type,
                legal_entity_id=entity[le],
            )
            for le, _, company in LEGAL_ENTITIES
            for natural, name, account_type in GL_ACCOUNTS
        ],
        "code",
    )


def _suppliers(w: _Writer) -> None:
    # Bulk inserts skip record_save, so the derived name the duplicate scan compares is set
    # here with the same function.
    w.ensure(
        Supplier,
        [
            Supplier(
                code=supplier_code(key),
                name=name,
                normalized_name=normalized_name(name),
                tax_id=tax_id(key),
                payment_terms=terms,
                status=SupplierStatusChoices.BLOCKED if key == BLOCKED else "active",
            )
            for key, name, _, _, terms, _, _ in SUPPLIERS
        ],
        "code",
    )
    supplier = _ids(Supplier)
    lockboxes = (
        ("Chicago", "IL", "60693"),
        ("Pittsburgh", "PA", "15264"),
        ("Atlanta", "GA", "30384"),
    )
    sites = []
    for key, name, city, state, _, _, _ in SUPPLIERS:
        number = SUPPLIER_NUMBER[key]
        supplier_id = supplier[supplier_code(key)]
        box_city, box_state, box_zip = lockboxes[number % 3]
        sites.append(
            SupplierSite(
                supplier_id=supplier_id,
                code="ORDER",
                name=f"{name}, customer service",
                address=f"{100 + 37 * number} Commerce Drive",
                city=f"{city}, {state}",
                postal_code=f"{(7919 * number) % 89999 + 10000:05d}",
                country="US",
            )
        )
        sites.append(
            SupplierSite(
                supplier_id=supplier_id,
                code="REMIT",
                name=f"{name}, remittance",
                address=f"PO Box {70000 + 131 * number}",
                city=f"{box_city}, {box_state}",
                postal_code=box_zip,
                country="US",
            )
        )
        if key in DISTRIBUTORS:
            for region, region_city in (("EAST", "Harrisburg, PA"), ("WEST", "Reno, NV")):
                sites.append(
                    SupplierSite(
                        supplier_id=supplier_id,
                        code=f"DC-{region}",
                        name=f"{name}, distribution center {region.lower()}",
                        address=f"{2000 + 11 * number} Logistics Parkway",
                        city=region_city,
                        country="US",
                    )
                )
    w.ensure(SupplierSite, sites, "supplier_id", "code")
    entity = _ids(LegalEntity)
    w.ensure(
        SupplierEnablement,
        [
            SupplierEnablement(supplier_id=supplier[supplier_code(key)], legal_entity_id=entity[le])
            for key, *_ in SUPPLIERS
            for index, (le, _, _) in enumerate(LEGAL_ENTITIES)
            if index == 0 or key not in ENABLED_ONLY_FOR_FIRST_ENTITY
        ],
        "supplier_id",
        "legal_entity_id",
        "effective_from",
    )


def _catalogue(plan: NetworkPlan, w: _Writer) -> None:
    w.ensure(
        ChargeCode,
        [
            ChargeCode(
                code=c.code,
                description=c.description,
                revenue_code=c.revenue_code,
                cpt_hcpcs=c.cpt_hcpcs,
                price=c.price,
            )
            for c in plan.charges
        ],
        "code",
        "effective_from",
    )
    uom = _ids(UnitOfMeasure)
    w.ensure(
        Item,
        [
            Item(
                code=item.code,
                name=item.name,
                gtin=item.gtin,
                stocking_uom_id=uom["EA"],
                chargeable=item.chargeable,
                implant=item.implant,
                lot_tracked=item.implant,
                serial_tracked=item.serial,
                charge_code=plan.item_charge.get(item.code, ""),
            )
            for item in plan.items
        ],
        "code",
    )
    item_id, supplier = _ids(Item), _ids(Supplier)
    parts = []
    for item in plan.items:
        parts.append(
            VendorPart(
                item_id=item_id[item.code],
                supplier_id=supplier[supplier_code(item.maker)],
                part_number=item.part_number,
                uom_id=uom[item.uom],
            )
        )
        # Distributors carry a third of the supplies under their own numbers, and the
        # duplicate Medline record a few.
        sellers = []
        if not item.implant and item.number % 3 == 0:
            sellers.append(DISTRIBUTORS[(item.number // 3) % len(DISTRIBUTORS)])
        if not item.implant and item.number % 97 == 0:
            sellers.append(NEAR_DUPLICATE[1])
        for seller in sellers:
            if seller != item.maker:
                parts.append(
                    VendorPart(
                        item_id=item_id[item.code],
                        supplier_id=supplier[supplier_code(seller)],
                        part_number=f"{PART_PREFIX[seller]}{item.number:06d}",
                        uom_id=uom[item.uom],
                    )
                )
    w.ensure(VendorPart, parts, "supplier_id", "part_number")
    # 1 from_uom = factor to_uom. Per item, since what a box holds depends on the item; one
    # general rule (a dozen is 12). The planted item has none.
    conversions = [UomConversion(from_uom_id=uom["DZ"], to_uom_id=uom["EA"], factor=12)]
    for item in plan.items:
        if item.code == plan.gaps.item_without_conversion or item.uom == "EA":
            continue
        pk = item_id[item.code]
        factors = [(item.uom, "EA", item.per_box)]
        if item.per_case:
            factors += [("CS", "BX", item.per_case), ("CS", "EA", item.per_box * item.per_case)]
        conversions += [
            UomConversion(item_id=pk, from_uom_id=uom[a], to_uom_id=uom[b], factor=factor)
            for a, b, factor in factors
        ]
    w.ensure(UomConversion, conversions, "item_id", "from_uom_id", "to_uom_id")


def _approved_cross_references(plan: NetworkPlan, w: _Writer, proposer, approver) -> None:
    # Written as approved rows in bulk, not through crossref_propose/crossref_approve: those
    # take a row lock, validate, audit and check open exceptions per mapping (about 15
    # statements each), which for ~8,000 mappings would take over a minute of the start
    # command. The rows carry the same maker-checker trail (proposed by one steward, decided
    # by another); the tolerance rules and the one pending proposal below go through the
    # services, so the governed path is exercised too.
    system = dict(ExternalSystem.objects.values_list("code", "id"))
    targets = {}
    for model in {spec.model for spec in plan.xrefs}:
        filters = {"effective_from": BEGINNING} if model is ChargeCode else {}
        targets[model] = (ContentType.objects.get_for_model(model).id, _ids(model, **filters))
    now = timezone.now()
    rows = []
    for spec in plan.xrefs:
        content_type_id, ids = targets[spec.model]
        rows.append(
            CrossReference(
                external_system_id=system[spec.system],
                entity_type=spec.entity_type,
                external_code=spec.external_code,
                content_type_id=content_type_id,
                object_id=ids[spec.target_code],
                effective_from=BEGINNING,
                status=ApprovalStatusChoices.APPROVED,
                note="Demo network",
                created_by=proposer,
                decided_by=approver,
                decided_at=now,
                decision_reason="Demo network: loaded as approved.",
            )
        )
    # Any existing row of a code (draft, retired...) counts: a steward's later work stays.
    w.ensure(CrossReference, rows, "external_system_id", "entity_type", "external_code")


_L, _M = ToleranceLevelChoices, ToleranceMeasureChoices
# name, level, measure, percent, absolute, scope ("supplier" / "item" / "facility"), scope key
TOLERANCES = (
    ("Default: invoice total", _L.HEADER, _M.AMOUNT, "2", "50.00", None, None),
    ("Default: invoice tax", _L.HEADER, _M.TAX, None, "1.00", None, None),
    ("Default: line price", _L.LINE, _M.PRICE, "1", "5.00", None, None),
    ("Default: line quantity (exact)", _L.LINE, _M.QUANTITY, "0", None, None, None),
    (
        "Medline: line price (fuel surcharge)",
        _L.LINE,
        _M.PRICE,
        "2",
        "10.00",
        "supplier",
        "medline",
    ),
    (
        "Owens & Minor: invoice total (freight)",
        _L.HEADER,
        _M.AMOUNT,
        "3",
        "150.00",
        "supplier",
        "owens",
    ),
    (
        "Contract price: first femoral stem (exact)",
        _L.LINE,
        _M.PRICE,
        "0",
        None,
        "item",
        "ITM-100001",
    ),
    (
        "Lakeshore Urgent Care: invoice total",
        _L.HEADER,
        _M.AMOUNT,
        "5",
        "25.00",
        "facility",
        "CLINIC-05",
    ),
)


def _governed(plan: NetworkPlan, w: _Writer, proposer, approver) -> None:
    """Tolerance rules and one pending mapping, through the maker-checker services."""
    existing = set(ToleranceRule.objects.values_list("name", flat=True))
    for name, level, measure, percent, absolute, scope, key in TOLERANCES:
        if name in existing:
            continue
        rule = ToleranceRule(
            name=name,
            level=level,
            measure=measure,
            percent=Decimal(percent) if percent is not None else None,
            absolute=Decimal(absolute) if absolute is not None else None,
            effective_from=BEGINNING,
            note="Demo network",
        )
        if scope == "supplier":
            rule.supplier = Supplier.objects.get(code=supplier_code(key))
        elif scope == "item":
            rule.item = Item.objects.get(code=key)
        elif scope == "facility":
            rule.facility = Facility.objects.get(code=key)
        rule = tolerance_propose(actor=proposer, rule=rule)
        tolerance_approve(rule_id=rule.pk, actor=approver, reason="Demo network")
        w.created["ToleranceRule"] += 1
    code = plan.gaps.proposed_procurement_supplier
    if not CrossReference.objects.filter(
        external_system__code=PROCUREMENT, entity_type="supplier", external_code=code
    ).exists():
        crossref_propose(
            actor=proposer,
            system=PROCUREMENT,
            entity_type="supplier",
            external_code=code,
            target=Supplier.objects.get(code=supplier_code(PROPOSED_MAPPING)),
            effective_from=BEGINNING,
            note=f"New in procurement; ERP knows it as vendor {erp_vendor_id(PROPOSED_MAPPING)}.",
        )
        w.created["CrossReference"] += 1


def _counts() -> dict[str, int]:
    approved = CrossReference.objects.filter(status=ApprovalStatusChoices.APPROVED)
    per_system = Counter(
        dict(
            approved.values_list("external_system__code")
            .annotate(n=Count("id"))
            .values_list("external_system__code", "n")
        )
    )
    counts = {
        "legal_entities": LegalEntity.objects.count(),
        "hospitals": Facility.objects.filter(kind=FacilityKindChoices.HOSPITAL).count(),
        "clinics": Facility.objects.filter(kind=FacilityKindChoices.CLINIC).count(),
        "suppliers": Supplier.objects.count(),
        "items": Item.objects.count(),
        "implants": Item.objects.filter(implant=True).count(),
        "charge_codes": ChargeCode.objects.count(),
        "xrefs": sum(per_system.values()),
        "tolerance_rules": ToleranceRule.objects.filter(
            status=ApprovalStatusChoices.APPROVED
        ).count(),
    }
    counts.update({f"xrefs_{code}": per_system[code] for code, _, _ in SYSTEMS})
    return counts


def demo_network_build() -> NetworkSummary:
    """Create whatever part of the demo network is missing (all of it, the first time)."""
    if settings.MODE not in {"demo", "test"} or not settings.SANDBOX_ENABLED:
        raise HubError(
            "DEMO_ONLY",
            "The demo network is created only in demo or test mode with the sandbox enabled.",
        )
    started = time.monotonic()
    plan = demo_network_plan()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        proposer, approver = _stewards()
        writer = _Writer()
        _organisation(plan, writer)
        _suppliers(writer)
        _catalogue(plan, writer)
        _approved_cross_references(plan, writer, proposer, approver)
        _governed(plan, writer, proposer, approver)
        pairs = None
        if sum(writer.created.values()):
            # Bulk inserts send no signals: tell every process's lookup cache, and look for
            # duplicates once over the whole set.
            cache.bump_on_commit()
            pairs = duplicates_scan()
        counts = _counts()
    created = {name: n for name, n in writer.created.items() if n}
    return NetworkSummary(created, counts, pairs, time.monotonic() - started)
