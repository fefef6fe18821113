"""The planning bookmark moves from a column of the plan to a narrow table of its own
(PlanningBookmark): planning rewrites it for every plan it plans, and on the plan row
each write added an entry to all of the plan's indexes. Active plans keep where they
were planned up to; reversing copies it back (a plan without one is planned again)."""

import django.db.models.deletion
from django.db import migrations, models


def bookmarks_from_plans(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO aftercare_planningbookmark (plan_id, planned_until) "
        "SELECT id, planned_until FROM aftercare_plan WHERE ended_at IS NULL"
    )


def bookmarks_to_plans(apps, schema_editor):
    schema_editor.execute(
        "UPDATE aftercare_plan SET planned_until = (SELECT b.planned_until "
        "FROM aftercare_planningbookmark b WHERE b.plan_id = aftercare_plan.id)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0013_merge_planned_until"),
    ]

    operations = [
        migrations.CreateModel(
            name="PlanningBookmark",
            fields=[
                (
                    "plan",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="bookmark",
                        serialize=False,
                        to="aftercare.plan",
                    ),
                ),
                ("planned_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "indexes": [models.Index(fields=["planned_until", "plan"], name="planning_due")],
            },
        ),
        migrations.RunPython(bookmarks_from_plans, bookmarks_to_plans, elidable=False),
        migrations.RemoveIndex(
            model_name="plan",
            name="plan_planning_due",
        ),
        migrations.RemoveField(
            model_name="plan",
            name="planned_until",
        ),
    ]
