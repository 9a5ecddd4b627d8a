"""schemathesis against the live API, at full strength: every phase (examples, coverage,
fuzzing, stateful) and every check, "valid request rejected" and the stateful ones included,
through the schemathesis CLI against a live server with the demo network and a real key.

Nothing is excluded. What the run is told (tests/api/schemathesis.toml says why, line by line):
- which statuses count as "not a rejection" of a schema-valid request: 412 (If-Match names a
  version the generator cannot know) and 422 (a refusal by state: the consent gate, an
  Idempotency-Key reused with another body) besides schemathesis' defaults; and, for two
  operations only, 400 where validity depends on the world and not on the request's shape
  (whether a webhook host resolves to a public address; whether a slug names an agency);
- `cursor` is sent empty (the first page) on the two lists: only the server knows which
  strings are cursors;
- the ids of a sheet the key may read, so that the sheet's operation reaches its logic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.live import LiveData, load_live_data
from tests.profile import PROFILE

HERE = Path(__file__).resolve().parent
# Per operation and phase: 15 at full strength (the ci profile), fewer for `make test`.
MAX_EXAMPLES = min(15, PROFILE.schemathesis_examples)
PHASES = "examples,coverage,fuzzing,stateful"


@pytest.fixture
def live_data(transactional_db: None, settings: Any) -> LiveData:
    """The demo network with hops and keys; a rate limit schemathesis will not reach."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/min"},
    }
    return load_live_data(settings, hops=3)


def _config(tmp_path: Path, data: LiveData) -> Path:
    text = (HERE / "schemathesis.toml").read_text(encoding="utf-8")
    text += (
        "\n# Written by the test: a sheet the key may read.\n"
        "[[operations]]\n"
        'include-operation-id = "sheets_retrieve"\n'
        f'parameters = {{ "id" = {data.hop.sheet_id} }}\n'
    )
    path = tmp_path / "schemathesis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_live_api_passes_every_schemathesis_check(
    live_server: Any, live_data: LiveData, tmp_path: Path
) -> None:
    """GIVEN the live schema, the demo network and a key with every scope WHEN schemathesis
    runs every phase and every check THEN it finds no failure."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
    }
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(_config(tmp_path, live_data)),
        "run",
        f"{live_server.url}/api/schema/?format=json",
        "--url",
        live_server.url,
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--header",
        f"Authorization: Bearer {live_data.npo_key}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "20261203",
        "--suppress-health-check",
        "all",
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert "Stateful" in output and "❌" not in output
