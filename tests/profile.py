"""How hard the slowest tests work: the test profile, from TSUNAGU_TEST_PROFILE.

- ``dev`` (the default: ``make test``): the property-based tests draw fewer examples and the
  browser tests (tests/e2e/, Chromium through Playwright) are skipped with that reason, so a
  developer's run stays within its time budget on a 2-core machine (docs/benchmarks.md).
- ``ci`` (``make test-all``, and what ``.ci/run`` sets): every test at full strength.

Apart from the browser tests, every test runs in both profiles and asserts the same things;
only the amount of generated input changes. Hypothesis settings profiles of the same names set the example count
of property tests that do not set their own (tests/conftest.py loads the active one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import settings

ENV = "TSUNAGU_TEST_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    stateful_examples: int  # tests/relay/test_workflow_stateful.py: workflows per run
    stateful_steps: int  # ... and steps per workflow
    schemathesis_examples: int  # tests/api/test_schemathesis.py: requests per operation
    default_examples: int  # Hypothesis tests without their own max_examples
    browser: bool  # tests/e2e/: drive Chromium


PROFILES = {
    "ci": Profile(
        name="ci",
        stateful_examples=30,
        stateful_steps=25,
        schemathesis_examples=50,
        default_examples=100,
        browser=True,
    ),
    "dev": Profile(
        name="dev",
        stateful_examples=8,
        stateful_steps=20,
        schemathesis_examples=10,
        default_examples=25,
        browser=False,
    ),
}


def active() -> Profile:
    """The profile named by TSUNAGU_TEST_PROFILE (dev when unset); an unknown name fails."""
    name = os.environ.get(ENV, "dev").strip() or "dev"
    try:
        return PROFILES[name]
    except KeyError:
        raise RuntimeError(f"{ENV}={name!r}: use one of {', '.join(sorted(PROFILES))}") from None


PROFILE = active()

for _profile in PROFILES.values():
    settings.register_profile(_profile.name, max_examples=_profile.default_examples)
