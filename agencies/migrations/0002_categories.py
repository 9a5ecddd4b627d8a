from django.db import migrations


def forwards(apps, schema_editor):
    from agencies.categories import CATEGORIES

    Category = apps.get_model("agencies", "Category")
    for code, label_ja, label_en in CATEGORIES:
        Category.objects.update_or_create(
            code=code, defaults={"label_ja": label_ja, "label_en": label_en}
        )


class Migration(migrations.Migration):
    dependencies = [("agencies", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
