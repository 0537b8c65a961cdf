"""How bench/reader_fit.py picks the reader's abstention threshold, on records made by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reader_fit import (  # bench/ (on sys.path: tests/conftest.py)
    Candidate,
    Record,
    area_under_curve,
    choose_threshold,
    separation,
)


def records(name: str, probabilities: list[float], answerable: bool, kind: str = "") -> list[Record]:
    """One record per probability, its best passage's logit giving that probability at a=1, b=0."""
    return [
        Record(name, "A", answerable, [Candidate(0.0, math.log(p / (1 - p)), answerable, [], [], [])], kind)
        for p in probabilities
    ]


ANSWERABLE = [0.55, 0.6, 0.7, 0.8, 0.9]
OFF_TOPIC = [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.62, 0.65]


def test_the_threshold_is_the_least_mean_error_when_no_set_holds_plain_off_topic_questions() -> None:
    fit = records("squad", ANSWERABLE, True) + records("news-off", OFF_TOPIC, False, kind="near-miss")
    threshold, floor_met = choose_threshold(fit, 0.0, 1, 1.0, 0.0)
    # Between the off-topic 0.5s and the first answerable 0.55: no answerable question refused.
    assert 0.5 < threshold <= 0.55
    assert floor_met  # nothing to hold it to


def test_the_threshold_keeps_nine_in_ten_plain_off_topic_questions_abstaining() -> None:
    fit = records("squad", ANSWERABLE, True) + records("news-off", OFF_TOPIC, False, kind="off-topic")
    threshold, floor_met = choose_threshold(fit, 0.0, 1, 1.0, 0.0)
    # Over 0.62 so that 9 of the 10 abstain, which refuses two answerable questions: then over
    # 0.65 too (all 10 abstain, no more answerable refused), and no higher.
    assert threshold == pytest.approx(0.66)
    assert floor_met


def test_an_unreachable_floor_falls_back_to_the_least_mean_error_and_says_so() -> None:
    fit = records("squad", ANSWERABLE, True) + records("news-off", [0.995] * 10, False, kind="off-topic")
    threshold, floor_met = choose_threshold(fit, 0.0, 1, 1.0, 0.0)
    assert not floor_met
    assert threshold <= 0.55  # every answerable question answered; the off-topic set is lost anyway


def test_the_area_under_the_curve_counts_pairs_ordered_right_and_ties_as_half() -> None:
    assert area_under_curve(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert area_under_curve(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0
    # Pairs: (2>1 yes, 2>3 no), (3>1 yes, 3=3 half): 2.5 of 4.
    assert area_under_curve(np.array([2.0, 3.0]), np.array([1.0, 3.0])) == pytest.approx(0.625)
    assert area_under_curve(np.array([1.0]), np.array([])) is None


def test_separation_sets_each_answerable_set_against_its_own_off_topic_questions() -> None:
    fit = (
        records("news", ANSWERABLE, True)
        # Near misses score like the answerable news questions, plain off-topic ones far below.
        + records("news-off", [0.55, 0.6, 0.7, 0.8, 0.9], False, kind="near-miss")
        + records("news-off", [0.1, 0.2], False, kind="off-topic")
        + records("squad", [0.9], True)
        + records("squad-off", [0.95], False)
    )
    areas = separation(fit, 0.0, 1)
    assert areas["news vs near misses"] == pytest.approx(0.5)
    assert areas["news vs plain off-topic"] == 1.0
    assert areas["squad vs squad-off"] == 0.0
    assert areas["news vs names-off"] is None  # no such questions
