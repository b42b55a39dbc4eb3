from __future__ import annotations

import numpy as np

from clawline.nlu.threshold import choose_threshold


def _rejected_correct_share(t, conf, correct):
    return float(((conf < t) & correct).sum() / len(conf))


def test_threshold_never_rejects_more_correct_answers_than_the_budget():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.2, 1.0, 500).astype(np.float32)
    correct = rng.uniform(size=500) < conf
    oos = rng.uniform(0.0, 0.6, 100).astype(np.float32)
    for budget in (0.0, 0.01, 0.05, 0.2):
        t = choose_threshold(conf, correct, oos, max_in_scope_loss=budget)
        assert _rejected_correct_share(t, conf, correct) <= budget + 1e-9


def test_larger_budget_catches_at_least_as_many_out_of_scope_messages():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.3, 1.0, 400).astype(np.float32)
    correct = np.ones(400, bool)
    oos = rng.uniform(0.0, 0.7, 100).astype(np.float32)
    recalls = [
        float((oos < choose_threshold(conf, correct, oos, max_in_scope_loss=b)).mean()) for b in (0.0, 0.05, 0.2)
    ]
    assert recalls == sorted(recalls)
    assert recalls[-1] > recalls[0]


def test_separable_data_gets_a_threshold_between_the_groups():
    conf = np.array([0.9, 0.95, 0.8, 0.85], np.float32)
    oos = np.array([0.2, 0.3, 0.4], np.float32)
    t = choose_threshold(conf, np.ones(4, bool), oos, max_in_scope_loss=0.0)
    assert 0.4 < t <= 0.8


def test_without_out_of_scope_examples_the_threshold_uses_the_whole_budget():
    conf = np.linspace(0.5, 1.0, 100).astype(np.float32)
    t = choose_threshold(conf, np.ones(100, bool), np.zeros(0, np.float32), max_in_scope_loss=0.05)
    assert _rejected_correct_share(t, conf, np.ones(100, bool)) == 0.05


def test_out_of_scope_already_caught_by_the_class_does_not_push_the_threshold_up():
    conf = np.array([0.6, 0.7, 0.8, 0.9], np.float32)
    oos = np.array([0.65, 0.75], np.float32)
    t = choose_threshold(conf, np.ones(4, bool), oos, np.array([True, True]), max_in_scope_loss=0.5)
    assert t <= 0.6


def test_few_held_out_out_of_scope_messages_do_not_pin_the_threshold_just_above_one_of_them():
    # Correct answers: 990 confident ones and a thin tail of 10 (1%, the budget) between 0.3 and 0.7. Three held-out
    # out-of-scope messages, at 0.1, 0.2 and 0.85. Counted as a step function their recall is flat from 0.2 to 0.85,
    # so the threshold stopped at 0.25 although the budget allows 0.75, where unseen out-of-scope messages (the
    # held-out ones say they lie between 0.2 and 0.85) are caught at the price of the tail.
    conf = np.concatenate([np.linspace(0.8, 1.0, 990), np.linspace(0.3, 0.7, 10)]).astype(np.float32)
    oos = np.array([0.1, 0.2, 0.85], np.float32)
    t = choose_threshold(conf, np.ones(1000, bool), oos, max_in_scope_loss=0.01)
    assert 0.7 < t < 0.8
    assert _rejected_correct_share(t, conf, np.ones(1000, bool)) <= 0.01
