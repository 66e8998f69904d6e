"""The bad-input table of the API page: every case still raises (or warns), and both languages list the same."""

import pytest

from book.figures import errors


def test_every_case_raises_and_both_languages_list_the_same_rows():
    english = [row for row in errors.bad_input_table("en").splitlines() if row.startswith("|")]
    chinese = [row for row in errors.bad_input_table("zh").splitlines() if row.startswith("|")]
    assert len(english) == len(errors.CASES) + 2
    assert english[2:] == chinese[2:]
    assert all("Error`" in row or "Warning`" in row for row in english[2:])


def test_a_case_that_stops_raising_stops_the_build(monkeypatch):
    monkeypatch.setattr(errors, "CASES", [("model", "make_model(11, 11, N=1)")])
    with pytest.raises(AssertionError, match=r"ran without an error or a warning: make_model\(11, 11, N=1\)"):
        errors.bad_input_table("en")
