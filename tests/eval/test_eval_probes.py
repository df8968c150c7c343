"""Probes on constructed features: separable data, random labels, known neighbours."""
import numpy as np
import pytest

from vcl_core.eval import fit_linear_probe, knn_top1, linear_probe, probe_all, retrieval_recall
from vcl_core.eval.probes import chance_level, encode_labels


def _blobs(n_per_class, classes, dim, spread, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (classes, dim)) * 5
    y = np.repeat(np.arange(classes), n_per_class)
    return centres[y] + rng.normal(0, spread, (len(y), dim)), y


def test_linear_probe_separates_separable_features():
    xtr, ytr = _blobs(30, 4, 8, 0.5, 0)
    xte, yte = _blobs(10, 4, 8, 0.5, 0)  # same centres (same seed), fresh noise below
    xte = xte + np.random.default_rng(1).normal(0, 0.5, xte.shape)
    assert linear_probe(xtr, ytr, xte, yte) == 1.0


def test_linear_probe_is_near_chance_on_random_labels():
    rng = np.random.default_rng(0)
    xtr, xte = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    ytr, yte = rng.integers(0, 4, 400), rng.integers(0, 4, 400)
    acc = linear_probe(xtr, ytr, xte, yte)
    assert abs(acc - 0.25) < 0.08  # 3.7 standard errors of a 400-sample accuracy at 0.25


def test_fitted_probe_is_deterministic_and_scores_unseen_classes_as_misses():
    xtr, ytr = _blobs(20, 3, 5, 0.3, 0)
    a, b = fit_linear_probe(xtr, ytr), fit_linear_probe(xtr, ytr)
    np.testing.assert_array_equal(a.logits(xtr), b.logits(xtr))
    assert a.score(xtr[:6], np.full(6, -1)) == 0.0
    with pytest.raises(ValueError, match="lie in"):
        fit_linear_probe(xtr, ytr, num_classes=2)


def test_knn_votes_with_temperature_weights():
    # query at angle 0: one same-class neighbour very close, two other-class neighbours farther
    train = np.array([[1.0, 0.05], [1.0, 0.6], [1.0, -0.6], [-1.0, 0.0]])
    ytr = np.array([0, 1, 1, 2])
    q, yq = np.array([[1.0, 0.0]]), np.array([0])
    # sims: 0.999, 0.857, 0.857 -> with t=0.07 the near neighbour outweighs the two others
    assert knn_top1(train, ytr, q, yq, k=3, t=0.07) == 1.0
    # with a huge temperature the votes are equal and the majority (class 1) wins
    assert knn_top1(train, ytr, q, yq, k=3, t=1e6) == 0.0


def test_retrieval_recall_on_a_known_ranking():
    # gallery on the unit circle at 0, 10, 20, 30, 40 degrees; labels chosen by hand
    ang = np.radians([0, 10, 20, 30, 40])
    gallery = np.stack([np.cos(ang), np.sin(ang)], 1)
    gy = np.array([0, 1, 2, 3, 0])
    q = np.array([[1.0, 0.0], [np.cos(np.radians(41)), np.sin(np.radians(41))]])
    qy = np.array([3, 1])
    # query 0 ranks 0,10,20,30,40 deg -> label 3 at rank 4; query 1 ranks 40,30,20,10,0 -> label 1 at rank 4
    rec = retrieval_recall(gallery, gy, q, qy, ks=(1, 3, 4, 5))
    assert rec == {1: 0.0, 3: 0.0, 4: 1.0, 5: 1.0}


def test_encode_labels_chance_and_probe_all_keys():
    ytr, yte, classes = encode_labels(["b", "a", "b"], ["a", "c"])
    assert classes == ["a", "b"] and ytr.tolist() == [1, 0, 1] and yte.tolist() == [0, -1]
    assert chance_level(np.array([1, 1, 0]), np.array([1, 0, 1, 1])) == 0.75
    xtr, ytr = _blobs(10, 2, 4, 0.3, 0)
    labels = ["x" if y else "y" for y in ytr]
    # an unlabelled train row far away would flip the nearest neighbours if it were not skipped
    m = probe_all(np.vstack([xtr, -xtr[:1] * 100]), labels + [""], xtr, labels)
    assert set(m) == {"linear_top1", "knn_top1", "retrieval_r1", "retrieval_r5", "retrieval_r10", "chance"}
    assert m["linear_top1"] == 1.0 and m["chance"] == 0.5
