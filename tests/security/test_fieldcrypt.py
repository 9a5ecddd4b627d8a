"""Encryption at rest of the 要配慮 sections, tested as someone holding a database dump would
read it: through SQL, not through the model."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from relay.models import ReferralSheet, SheetVersion
from relay.services import sheets as sheet_services
from security import fieldcrypt

SECRET_NOTE = "父からの身体的虐待の疑い(テスト)"
SECRET_HEALTH = "不眠・食欲不振、心療内科に通院(テスト)"
SECRET_NAME = "明石 太郎"
ENCRYPTED = (
    "subject_full_name",
    "class_type",
    "physical_condition",
    "mental_condition",
    "developmental_traits",
    "abuse_suspected",
    "safeguarding_note",
)


def _raw(sheet_id: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM relay_referralsheet WHERE id = %s", [sheet_id])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def secret_sheet(net) -> ReferralSheet:
    return net.sheet(
        subject_full_name=SECRET_NAME,
        mental_condition=SECRET_HEALTH,
        physical_condition="頭痛",
        developmental_traits="ASDの診断あり",
        class_type="special_needs",
        abuse_suspected="yes",
        safeguarding_note=SECRET_NOTE,
    )


def test_raw_columns_hold_no_plaintext(secret_sheet):
    """GIVEN a sheet with health, safeguarding and the full name WHEN its row is read with SQL
    THEN every sensitive column is an enc1 value, the plain text is nowhere in the row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM relay_referralsheet WHERE id = %s", [secret_sheet.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    for plain in (SECRET_NOTE, SECRET_HEALTH, SECRET_NAME, "ASDの診断あり", "special_needs"):
        assert plain not in row
    for column in ENCRYPTED:
        assert _raw(secret_sheet.pk, column).startswith("enc1:"), column
    # Through the model the sheet reads as written.
    fresh = ReferralSheet.objects.get(pk=secret_sheet.pk)
    assert fresh.safeguarding_note == SECRET_NOTE
    assert fresh.subject_full_name == SECRET_NAME
    assert fresh.class_type == "special_needs"


def test_versions_of_a_sent_sheet_are_encrypted_too(net, secret_sheet):
    """GIVEN a sent sheet WHEN it is edited (a version snapshot is kept) THEN the snapshot's
    column holds no plain text either."""
    net.consent(secret_sheet)
    net.send(secret_sheet)
    sheet_services.sheet_update(
        staff=net.counselor,
        sheet_id=secret_sheet.pk,
        data={"consultation": "更新"},
        reason="追記",
    )
    version = SheetVersion.objects.get(sheet=secret_sheet)
    assert version.content["safeguarding_note"] == SECRET_NOTE
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM relay_sheetversion WHERE id = %s", [version.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("enc1:") and SECRET_NOTE not in raw and "safeguarding" not in raw


def test_rotation_re_encrypts_and_the_old_key_can_then_be_dropped(settings, secret_sheet):
    """GIVEN values under key A WHEN key B is put first and rotate_field_keys runs THEN every
    value is under B, and with A removed the sheet still reads."""
    old = settings.FIELD_ENCRYPTION_KEYS
    old_id = fieldcrypt.keyring()[0].key_id
    new = fieldcrypt.new_key_spec("rotated")
    assert _raw(secret_sheet.pk, "safeguarding_note").startswith(f"enc1:{old_id}:")
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]
    call_command("rotate_field_keys", "--batch", "1", verbosity=0)
    for column in ENCRYPTED:
        assert _raw(secret_sheet.pk, column).startswith("enc1:rotated:"), column
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert ReferralSheet.objects.get(pk=secret_sheet.pk).safeguarding_note == SECRET_NOTE


def test_a_wrong_key_fails_loudly(settings, secret_sheet):
    """GIVEN values under key A WHEN the app runs with another key under the same id, or
    without A THEN reading raises, naming the column and key, never returning a guess."""
    key_id = fieldcrypt.keyring()[0].key_id
    settings.FIELD_ENCRYPTION_KEYS = [fieldcrypt.new_key_spec(key_id)]
    with pytest.raises(fieldcrypt.FieldDecryptionError, match="does not decrypt") as wrong:
        ReferralSheet.objects.get(pk=secret_sheet.pk)
    assert SECRET_NOTE not in str(wrong.value)
    settings.FIELD_ENCRYPTION_KEYS = [fieldcrypt.new_key_spec("other")]
    with pytest.raises(fieldcrypt.FieldDecryptionError, match="lacks"):
        ReferralSheet.objects.get(pk=secret_sheet.pk)
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        ReferralSheet.objects.get(pk=secret_sheet.pk)


def test_a_value_moved_to_another_column_does_not_decrypt(secret_sheet):
    """The column is authenticated: swapping ciphertexts between fields is detected."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE relay_referralsheet SET mental_condition = safeguarding_note WHERE id = %s",
            [secret_sheet.pk],
        )
    with pytest.raises(fieldcrypt.FieldDecryptionError):
        ReferralSheet.objects.get(pk=secret_sheet.pk)


def test_queries_cannot_compare_encrypted_content(secret_sheet):
    """Only emptiness can be asked; a search by content fails instead of matching nothing."""
    assert ReferralSheet.objects.filter(safeguarding_note="").count() == 0
    assert ReferralSheet.objects.exclude(safeguarding_note="").count() == 1
    with pytest.raises(FieldError):
        ReferralSheet.objects.filter(safeguarding_note=SECRET_NOTE).count()
    with pytest.raises(FieldError):
        ReferralSheet.objects.filter(safeguarding_note__icontains="虐待").count()


def test_key_configuration_errors_name_the_entry_not_the_key():
    with pytest.raises(ImproperlyConfigured, match="entry 1"):
        fieldcrypt.parse_keys("no-separator")
    with pytest.raises(ImproperlyConfigured, match="32 bytes"):
        fieldcrypt.parse_keys("short:c2hvcnQ=")
    spec = fieldcrypt.new_key_spec("a")
    with pytest.raises(ImproperlyConfigured, match="twice"):
        fieldcrypt.parse_keys([spec, spec])
