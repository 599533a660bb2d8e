# Joins the migrations written in parallel for issues 10 and 13 (no operations of its own).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("trading", "0005_api_list_indexes"),
        ("trading", "0006_cycle_schedules"),
        ("trading", "0006_merge_cycle_killsw"),
        ("trading", "0006_reconciliation_schedule"),
    ]

    operations = []
