"""Every workflow error (agencies.errors) has its own problem type, in Japanese and English."""

from __future__ import annotations

import pytest
from django.utils import translation

from agencies import errors
from api.problems import problem_exception_handler, problem_type_for
from api.workflow_problems import REASONS_EN, english_detail

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("exc", "slug", "status"),
    [
        (errors.NotFound(), "not-found", 404),
        (errors.NotAllowed(), "not-allowed", 403),
        (errors.IllegalTransition(current="sent"), "illegal-transition", 409),
        (errors.ConsentDoesNotCover(reason="no-consent"), "consent-does-not-cover", 422),
        (errors.ConsentWithdrawn(reason="withdrawn"), "consent-withdrawn", 422),
        (errors.InvalidInput(field="purpose"), "invalid-input", 400),
        (errors.SheetLocked(field="reason"), "sheet-locked", 409),
    ],
)
def test_each_workflow_error_has_a_stable_type(exc, slug, status) -> None:
    problem = problem_type_for(exc)
    assert (problem.slug, problem.status) == (slug, status)
    assert problem.title_ja and problem.title_en and problem.title_ja != problem.title_en


@pytest.mark.parametrize("language", ["ja", "en"])
def test_invalid_input_names_its_field_in_errors(language) -> None:
    with translation.override(language):
        response = problem_exception_handler(
            errors.InvalidInput("結果を選んでください。", field="outcome"), {}
        )
    assert response.status_code == 400
    assert response.data["errors"] == [
        {"field": "outcome", "message": response.data["detail"], "code": "invalid"}
    ]
    expected = "Choose an outcome from the list." if language == "en" else "結果を選んでください。"
    assert response.data["detail"] == expected


def test_every_policy_reason_has_an_english_sentence() -> None:
    import inspect

    from consent import policy

    reasons = set(__import__("re").findall(r'_refuse\(\s*"([a-z-]+)"', inspect.getsource(policy)))
    assert reasons and reasons <= set(REASONS_EN)
    for reason in reasons:
        assert english_detail(errors.ConsentDoesNotCover(reason=reason)) == REASONS_EN[reason]
