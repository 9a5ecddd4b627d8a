"""compose.yaml and the settings agree: every variable the settings read is set for the
containers (but those of the embedded default and tests), and compose sets nothing that
nobody reads. The Dockerfile keeps its promises (non-root, base image as a build argument)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Read by settings.py but meaningless in a container: the embedded default and the tests.
EMBEDDED_OR_TEST_ONLY = {
    "TSUNAGU_DATABASE_PATH",
    "TEST_DATABASE_NAME",
    "CELERY_POLLING_INTERVAL",
    "EMAIL_FILE_PATH",
    "TSUNAGU_DEMO_ALLOWED",
}
# Set in compose.yaml for another reader than settings.py, and where it reads them.
OTHER_READERS = {
    "GUNICORN_WORKERS": ROOT / "ops" / "gunicorn_conf.py",
    "PROMETHEUS_MULTIPROC_DIR": ROOT / "ops" / "gunicorn_conf.py",
}


def settings_variables() -> set[str]:
    source = (ROOT / "tsunagu" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', source, re.S))


def compose_variables() -> dict[str, set[str]]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return {
        name: set(service.get("environment") or {})
        for name, service in compose["services"].items()
        if name not in ("postgres", "redis")
    }


def test_the_settings_reading_finds_what_it_should() -> None:
    found = settings_variables()
    assert {"DATABASE_URL", "ALLOWED_HOSTS", "NOTIFICATION_RETRY_SCHEDULE", "SECRET_KEY"} <= found


def test_compose_sets_every_variable_the_settings_read_and_nothing_else() -> None:
    wanted = settings_variables() - EMBEDDED_OR_TEST_ONLY
    for service, names in compose_variables().items():
        app_names = names - set(OTHER_READERS)
        assert wanted - app_names == set(), f"{service} lacks {sorted(wanted - app_names)}"
        assert app_names - wanted == set(), f"{service} sets unread {sorted(app_names - wanted)}"


def test_variables_for_other_readers_are_read_there() -> None:
    for name, reader in OTHER_READERS.items():
        assert name in reader.read_text(encoding="utf-8"), (name, reader)


def test_the_web_healthcheck_asks_readyz() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert "/readyz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_the_image_runs_as_an_unprivileged_user_on_a_configurable_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.M)
    stages = re.findall(r"^FROM ", dockerfile, re.M)
    assert len(stages) >= 2  # multi-stage: build tools stay out of the runtime image
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "--require-hashes" in dockerfile  # installed from the lock file


def _canonical(name: str) -> str:
    """PEP 503: case and runs of "-", "_" and "." do not matter (fhir.resources = fhir-resources)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in requirements}


def test_the_lock_files_pin_every_dependency_of_pyproject() -> None:
    """A dependency added to pyproject.toml without `make lock` would be missing from
    `make install` (which installs only from the lock): caught here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for lock, needed in (
        ("requirements.lock", project["dependencies"]),
        (
            "requirements-dev.lock",
            project["dependencies"] + project["optional-dependencies"]["dev"],
        ),
    ):
        text = (ROOT / lock).read_text(encoding="utf-8")
        pinned = {_canonical(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.M)}
        assert _names(needed) - pinned == set(), lock
        assert "--hash=sha256:" in text


def _own_packages() -> set[str]:
    """The project's top-level packages: every directory of the repository root with an
    __init__.py, but the tests and the tooling."""
    return {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in {"tests", "bench", "tools", "examples", "docs"}
    }


def test_every_package_ships_in_the_image_and_the_wheel_and_is_type_checked() -> None:
    """A new app (csvexport once was) must reach the image, the installed package and mypy:
    the image built without it failed at its first request."""
    packages = _own_packages()
    assert {"tsunagu", "relay", "audit", "csvexport"} <= packages
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, re.M))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= included, f"not in the wheel: {sorted(packages - included)}"
    checked = set(pyproject["tool"]["mypy"]["files"])
    assert packages <= checked, f"not type-checked: {sorted(packages - checked)}"
