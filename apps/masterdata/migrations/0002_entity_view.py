"""One view over every mapped entity, so a batch of lookups is one statement."""

from django.db import migrations

# Columns: what the lookup needs to decide whether a record may be used on a date.
ENTITY_VIEW = """
CREATE VIEW masterdata_entity AS
SELECT 'legal_entity'::varchar AS entity_type, id, code, status, effective_from, effective_to,
       NULL::bigint AS merged_into_id, NULL::boolean AS chargeable, id AS legal_entity_id
  FROM masterdata_legalentity
UNION ALL
SELECT 'facility', id, code, status, effective_from, effective_to, NULL, NULL, legal_entity_id
  FROM masterdata_facility
UNION ALL
SELECT 'department', id, code, status, effective_from, effective_to, NULL, NULL, NULL
  FROM masterdata_department
UNION ALL
SELECT 'cost_center', id, code, status, effective_from, effective_to, NULL, NULL, legal_entity_id
  FROM masterdata_costcenter
UNION ALL
SELECT 'gl_account', id, code, status, effective_from, effective_to, NULL, NULL, legal_entity_id
  FROM masterdata_glaccount
UNION ALL
SELECT 'service_line', id, code, status, effective_from, effective_to, NULL, NULL, NULL
  FROM masterdata_serviceline
UNION ALL
SELECT 'funding_source', id, code, status, effective_from, effective_to, NULL, NULL, NULL
  FROM masterdata_fundingsource
UNION ALL
SELECT 'supplier', id, code, status, effective_from, effective_to, merged_into_id, NULL, NULL
  FROM masterdata_supplier
UNION ALL
SELECT 'item', id, code, status, effective_from, effective_to, merged_into_id, chargeable, NULL
  FROM masterdata_item
UNION ALL
SELECT 'uom', id, code, 'active', DATE '2000-01-01', NULL, NULL, NULL, NULL
  FROM masterdata_unitofmeasure
UNION ALL
SELECT 'charge_code', id, code, status, effective_from, effective_to, NULL, NULL, NULL
  FROM masterdata_chargecode;
"""


class Migration(migrations.Migration):
    dependencies = [("masterdata", "0001_initial")]

    operations = [
        migrations.RunSQL(ENTITY_VIEW, "DROP VIEW IF EXISTS masterdata_entity;"),
    ]
