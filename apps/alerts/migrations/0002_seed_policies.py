"""The starting calendars (24/7, weekday office hours) and SLA policies (apps/alerts/seed.py)."""

from django.db import migrations


def seed(apps, schema_editor):
    from apps.alerts.seed import seed_defaults

    seed_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("exceptions", "0005_one_open_per_root_cause"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
