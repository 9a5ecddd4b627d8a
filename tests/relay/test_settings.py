"""Settings resolve from the environment: embedded by default, services when configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
    "'broker': settings.CELERY_BROKER_URL, 'email': settings.EMAIL_BACKEND,"
    "'cache': settings.CACHES['default']['BACKEND'], 'debug': settings.DEBUG,"
    "'lang': settings.LANGUAGE_CODE, 'tz': settings.TIME_ZONE,"
    "'langs': [c for c, _ in settings.LANGUAGES], 'key_len': len(settings.SECRET_KEY),"
    "'queue_dir': settings.CELERY_BROKER_TRANSPORT_OPTIONS.get('data_folder_in', '')}))"
)
SERVICE_VARS = (
    "FIELD_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update({"DJANGO_SETTINGS_MODULE": "tsunagu.settings", "TSUNAGU_VAR_DIR": str(tmp_path)})
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_no_environment_means_embedded_services_under_var(tmp_path: Path) -> None:
    """GIVEN no environment WHEN settings load THEN SQLite, filesystem broker, file e-mail."""
    out = _run([sys.executable, "-c", PROBE], _env(tmp_path))
    assert out.returncode == 0, out.stderr
    resolved = json.loads(out.stdout)
    assert resolved["engine"] == "django.db.backends.sqlite3"
    assert resolved["broker"] == "filesystem://"
    assert resolved["queue_dir"].startswith(str(tmp_path))
    assert resolved["email"] == "django.core.mail.backends.filebased.EmailBackend"
    assert resolved["cache"].endswith("FileBasedCache")
    assert resolved["lang"] == "ja" and resolved["tz"] == "Asia/Tokyo"
    assert resolved["langs"] == ["ja", "en"]
    assert resolved["debug"] is True
    assert resolved["key_len"] >= 50
    # The generated key is kept, private, under var/.
    key_file = tmp_path / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"


def test_environment_selects_postgres_and_redis(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CACHE_URL="redis://127.0.0.1:6379/1",
        SECRET_KEY="k" * 60,
    )
    resolved = json.loads(_run([sys.executable, "-c", PROBE], env).stdout)
    assert resolved["engine"] == "django.db.backends.postgresql"
    assert resolved["broker"] == "redis://127.0.0.1:6379/0"
    assert resolved["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert resolved["debug"] is False


def test_production_without_secret_key_refuses_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    out = _run([sys.executable, "-c", PROBE], env)
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("fail_level", ["WARNING"])
def test_check_deploy_passes_with_a_production_environment(tmp_path: Path, fail_level: str) -> None:
    env = _env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        SECRET_KEY="production-like-secret-" + "x9Kq2" * 12,
        ALLOWED_HOSTS="tsunagu.example.jp",
        FIELD_ENCRYPTION_KEYS="k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
    )
    out = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", fail_level], env)
    assert out.returncode == 0, out.stdout + out.stderr


def test_production_without_field_encryption_keys_fails_the_checks(tmp_path: Path) -> None:
    """No default key outside embedded mode: `check` (and so migrate, runserver) refuses."""
    env = _env(
        tmp_path,
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        SECRET_KEY="production-like-secret-" + "x9Kq2" * 12,
        ALLOWED_HOSTS="tsunagu.example.jp",
    )
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    out = _run([sys.executable, "manage.py", "check"], env)
    assert out.returncode != 0 and "security.E001" in out.stderr
    assert not (tmp_path / "field_encryption_keys").exists()
