import numpy as np
import pytest

from vcl_core.data.sampling import ClipTooShort, ViewSpec, cvrl_gap, eval_windows, sample_starts, window_indices


def test_cvrl_gap_density_decreases_linearly():
    rng = np.random.default_rng(0)
    m = 40
    gaps = np.array([cvrl_gap(rng, m) for _ in range(200_000)])
    assert gaps.min() >= 0 and gaps.max() <= m
    hist = np.bincount(gaps, minlength=m + 1)[:m] / len(gaps)
    expected = (1 - (np.arange(m) + 0.5) / m) * 2 / m  # p(d) = 2 (1 - d/M) / M
    np.testing.assert_allclose(hist, expected, atol=0.002)
    # continuous mean M/3, minus 1/2 for taking the floor
    assert np.mean(gaps) == pytest.approx(m / 3 - 0.5, rel=0.02)


@pytest.mark.parametrize("policy", ["same", "cvrl", "range", "rho"])
def test_starts_fit_the_video_and_are_deterministic(policy):
    views = [ViewSpec(8, 2), ViewSpec(8, 2), ViewSpec(16, 1, whole=True)]
    for seed in range(50):
        a = sample_starts(np.random.default_rng(seed), 60, views, policy, min_gap=4, max_gap=20)
        b = sample_starts(np.random.default_rng(seed), 60, views, policy, min_gap=4, max_gap=20)
        assert a == b
        starts, gap = a
        assert all(0 <= s <= 60 - 15 for s in starts[:2]) and starts[2] == 0
        assert gap == starts[1] - starts[0]
        if policy == "same":
            assert gap == 0
        if policy == "range":
            assert 4 <= abs(gap) <= 20
        if policy == "cvrl":
            assert abs(gap) <= 20


def test_gap_sign_is_balanced():
    gaps = [sample_starts(np.random.default_rng(s), 100, [ViewSpec(8, 1)] * 2, "range", 5, 30)[1] for s in range(2000)]
    assert 0.45 < np.mean(np.array(gaps) > 0) < 0.55


def test_short_video_policies():
    v = ViewSpec(8, 2)
    np.testing.assert_array_equal(window_indices(0, v, 10, "loop"), [0, 2, 4, 6, 8, 0, 2, 4])
    np.testing.assert_array_equal(window_indices(0, v, 10, "pad"), [0, 2, 4, 6, 8, 9, 9, 9])
    with pytest.raises(ClipTooShort):
        window_indices(0, v, 10, "skip")
    np.testing.assert_array_equal(window_indices(0, v, 1, "loop"), [0] * 8)  # single-frame video


def test_whole_view_covers_the_video_in_order():
    v = ViewSpec(16, whole=True)
    idx = window_indices(0, v, 48)
    np.testing.assert_array_equal(idx, np.arange(16) * 3 + 1)  # segment centres
    rng = np.random.default_rng(0)
    for _ in range(100):
        j = window_indices(0, v, 48, rng=rng)  # training: a random frame in each segment
        assert np.all(j // 3 == np.arange(16))


def test_eval_windows_are_even():
    wins = eval_windows(48, ViewSpec(8, 1), 6)
    assert [int(w[0]) for w in wins] == [0, 8, 16, 24, 32, 40]
    assert len(eval_windows(48, ViewSpec(16, whole=True), 6)) == 1
