"""The kinds of canonical record that external codes map to, and the code of a miss."""

from dataclasses import dataclass

from apps.exceptions.catalogue import codes


@dataclass(frozen=True)
class EntityType:
    slug: str
    label: str
    model: str  # app_label.ModelName
    miss_code: str  # the exception code when an external code resolves to nothing usable


ENTITY_TYPES: dict[str, EntityType] = {
    entity.slug: entity
    for entity in (
        EntityType(
            "legal_entity", "Legal entity", "masterdata.LegalEntity", codes.VALUE_MAPPING_MISSING
        ),
        EntityType("facility", "Facility", "masterdata.Facility", codes.FACILITY_UNKNOWN),
        EntityType(
            "department", "Department", "masterdata.Department", codes.VALUE_MAPPING_MISSING
        ),
        EntityType(
            "cost_center", "Cost center", "masterdata.CostCenter", codes.COST_CENTER_INVALID
        ),
        EntityType("gl_account", "GL account", "masterdata.GLAccount", codes.GL_ACCOUNT_INVALID),
        EntityType(
            "service_line", "Service line", "masterdata.ServiceLine", codes.VALUE_MAPPING_MISSING
        ),
        EntityType(
            "funding_source",
            "Funding source",
            "masterdata.FundingSource",
            codes.VALUE_MAPPING_MISSING,
        ),
        EntityType("supplier", "Supplier", "masterdata.Supplier", codes.SUPPLIER_UNKNOWN),
        EntityType("item", "Item", "masterdata.Item", codes.ITEM_UNKNOWN),
        EntityType(
            "uom", "Unit of measure", "masterdata.UnitOfMeasure", codes.VALUE_MAPPING_MISSING
        ),
        EntityType(
            "charge_code", "Charge code", "masterdata.ChargeCode", codes.VALUE_MAPPING_MISSING
        ),
    )
}

ENTITY_TYPE_CHOICES = [(entity.slug, entity.label) for entity in ENTITY_TYPES.values()]


def entity_type_for_model(model) -> EntityType:
    label = f"{model._meta.app_label}.{model.__name__}"
    for entity in ENTITY_TYPES.values():
        if entity.model == label:
            return entity
    raise LookupError(f"{label} is not a mapped entity type")


def root_cause_key(entity_type: str, system: str, external_code: str) -> str:
    """How exceptions name a missing mapping, so one fix finds every exception it resolves."""
    return f"{entity_type}:{system}:{external_code}"
