"""Make exception activity append-only in the database (the function comes from pipeline)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("exceptions", "0001_initial"),
        ("pipeline", "0002_append_only_and_queue_tuning"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER exceptionactivity_append_only "
            "BEFORE UPDATE OR DELETE ON exceptions_exceptionactivity "
            "FOR EACH ROW EXECUTE FUNCTION hubconsole_refuse_change();",
            "DROP TRIGGER IF EXISTS exceptionactivity_append_only ON exceptions_exceptionactivity;",
        ),
    ]
