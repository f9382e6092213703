"""Folds and inner splits: disjoint, seeded, and holding out what their name says."""

import numpy as np
import pytest

from drugresponse.errors import UserError
from drugresponse.train.data.splits import (
    NOT_MEASURED,
    TISSUE_GROUPS,
    TRAIN_ONLY,
    UNLABELLED,
    inner_split,
    make_folds,
    tissue_groups,
    train_mask,
)


@pytest.mark.parametrize("split", ["lpo", "lco", "lto"])
def test_folds_never_leak(matrix, split):
    folds = make_folds(matrix, split, 3, seed=1)
    assert np.array_equal(folds != NOT_MEASURED, matrix.measured)
    for fold in range(3):
        test, train = folds == fold, train_mask(folds, fold)
        assert test.any() and not (test & train).any()
        assert np.array_equal(test | train, matrix.measured)
        if split in ("lco", "lto"):
            assert not (test.any(axis=1) & train.any(axis=1)).any()


def test_lto_holds_out_whole_tissue_groups_and_never_tests_unlabelled_lines(matrix):
    folds = make_folds(matrix, "lto", 3, seed=1)
    # the groups are the hand-written mapping, not the labels the folds were built from
    group = {t: TISSUE_GROUPS.get(t, t) for t in set(matrix.tissues)}
    for fold in range(3):
        test, train = folds == fold, train_mask(folds, fold)
        tested = {group[t] for t in matrix.tissues[test.any(axis=1)]}
        trained = {group[t] for t in matrix.tissues[train.any(axis=1)]}
        assert tested and not tested & trained
        assert UNLABELLED not in tested
    unlabelled = matrix.tissues == UNLABELLED
    assert unlabelled.any(), "the fixture holds lines without a tissue label"
    assert (folds[unlabelled][matrix.measured[unlabelled]] == TRAIN_ONLY).all()


def test_related_tissues_share_a_group():
    groups = tissue_groups(np.array(["lung_NSCLC", "lung_SCLC", "lung", "leukemia", "lymphoma", "myeloma",
                                     "neuroblastoma", "nervous_system", "skin", UNLABELLED]))
    assert len(set(groups[:3])) == 1 and len(set(groups[3:6])) == 1 and len(set(groups[6:8])) == 1
    assert len(set(groups)) == 5 and groups[-1] == UNLABELLED


@pytest.mark.parametrize("split", ["lpo", "lco", "lto"])
def test_inner_splits_are_disjoint_and_inside_the_training_mask(matrix, split):
    folds = make_folds(matrix, split, 3, seed=0)
    train = train_mask(folds, 0)
    inner_train, inner_val = inner_split(train, split, 0.2, seed=3, tissues=matrix.tissues)
    assert inner_val.any() and inner_train.any()
    assert not (inner_train & inner_val).any()
    assert np.array_equal(inner_train | inner_val, train)
    if split == "lco":
        assert not (inner_train.any(axis=1) & inner_val.any(axis=1)).any()
    if split == "lto":
        groups = tissue_groups(matrix.tissues)
        assert not set(groups[inner_val.any(axis=1)]) & set(groups[inner_train.any(axis=1)])
        assert UNLABELLED not in set(groups[inner_val.any(axis=1)])


def test_lto_inner_split_needs_tissues(matrix):
    with pytest.raises(ValueError, match="tissues"):
        inner_split(matrix.measured, "lto", 0.2, seed=0)


def test_folds_are_seeded(matrix):
    assert np.array_equal(make_folds(matrix, "lco", 3, 7), make_folds(matrix, "lco", 3, 7))
    assert not np.array_equal(make_folds(matrix, "lco", 3, 7), make_folds(matrix, "lco", 3, 8))


def test_too_many_tissue_folds_is_a_message(matrix):
    with pytest.raises(UserError, match="too few"):
        make_folds(matrix, "lto", 50, seed=0)
