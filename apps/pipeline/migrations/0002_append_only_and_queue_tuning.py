"""Make transaction events append-only in the database, and tune the work queue table."""

from django.db import migrations

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION hubconsole_refuse_change() RETURNS trigger AS $$
BEGIN
    -- Retention jobs may prune under an explicit, audited switch; nothing else may.
    IF current_setting('hubconsole.allow_prune', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER transactionevent_append_only
    BEFORE UPDATE OR DELETE ON pipeline_transactionevent
    FOR EACH ROW EXECUTE FUNCTION hubconsole_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS transactionevent_append_only ON pipeline_transactionevent;
"""

# Work items are inserted, leased (updated) and deleted all day long: leave room on each page
# for HOT updates and vacuum the table far more eagerly than the default 20 % of dead rows.
QUEUE_TUNING = """
ALTER TABLE pipeline_workitem SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000
);
"""


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP),
        migrations.RunSQL(QUEUE_TUNING, migrations.RunSQL.noop),
    ]
