import numpy as np
import pytest

from vcl_core.data.views import ClipTooShort, ViewSpec, cvrl_gap, eval_windows, sample_starts, window_indices


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


def test_shared_jitter_keeps_whole_views_evenly_spaced():
    """TSN's per-segment jitter makes the spacing between a whole view's frames vary (1 to 5
    source frames here), which scrambles sub-second motion; ``shared`` moves all frames by one
    offset, so the spacing stays the video's length / T while the phase still varies."""
    rng = np.random.default_rng(0)
    seg = np.array([np.diff(window_indices(0, ViewSpec(16, whole=True), 48, rng=rng)) for _ in range(200)])
    assert seg.min() <= 1 and seg.max() >= 5
    shared = ViewSpec(16, whole=True, jitter="shared")
    starts = set()
    for _ in range(200):
        j = window_indices(0, shared, 48, rng=rng)
        assert np.all(np.diff(j) == 3) and np.all(j // 3 == np.arange(16))
        starts.add(int(j[0]))
    assert starts == {0, 1, 2}
    np.testing.assert_array_equal(window_indices(0, shared, 48), np.arange(16) * 3 + 1)  # evaluation: centres
    with pytest.raises(ValueError, match="jitter"):
        ViewSpec(16, whole=True, jitter="tsn")


def test_eval_windows_are_even():
    wins = eval_windows(48, ViewSpec(8, 1), 6)
    assert [int(w[0]) for w in wins] == [0, 8, 16, 24, 32, 40]
    assert len(eval_windows(48, ViewSpec(16, whole=True), 6)) == 1


def test_fractional_stride_fps_and_speed():
    v = ViewSpec(4, 1.5)
    np.testing.assert_array_equal(window_indices(2, v, 100), [2, 3, 5, 6])
    assert v.span(100) == 5  # frames 2..6
    assert ViewSpec(8, fps=8).resolve(16.0).stride == 2.0  # 16 fps video, 8 fps view
    assert ViewSpec(8, fps=10).resolve(25.0).span(1000) == 18  # 2.5 frames apart
    assert ViewSpec(8, 3, fps=8).resolve(0.0).stride == 3  # unknown rate: keep the stride
    assert ViewSpec(8, 2).at_speed(2.0).span(100) == 29
    assert ViewSpec(8, 2).at_speed(0.5).span(100) == 8  # slow motion: every frame once
    from vcl_core.data.temporal_augment import TemporalAugmentConfig

    with pytest.raises(ValueError, match="whole-video"):
        ViewSpec(8, whole=True, temporal=TemporalAugmentConfig(speeds=(1, 2)))
    with pytest.raises(ValueError):
        ViewSpec(8, stride=0)


def test_cvrl_gap_distribution_of_sampled_pairs():
    """Whole pipeline of two clip views: |gap| follows the decreasing density, capped by room."""
    views = [ViewSpec(8, 1)] * 2
    n = 68  # room M = 60
    gaps = np.abs([sample_starts(np.random.default_rng(s), n, views, "cvrl")[1] for s in range(20000)])
    assert gaps.max() <= 60
    hist = np.bincount(gaps, minlength=61)
    lo, mid, hi = hist[:10].sum(), hist[25:35].sum(), hist[50:60].sum()
    assert lo > mid > hi > 0  # decreasing
    assert np.mean(gaps) == pytest.approx(60 / 3 - 0.5, rel=0.05)


def test_same_policy_centres_views_of_different_scales_together():
    views = [ViewSpec(4, 1), ViewSpec(8, 4)]
    for s in range(100):
        starts, gap = sample_starts(np.random.default_rng(s), 200, views, "same")
        c0 = starts[0] + views[0].span(200) / 2
        c1 = starts[1] + views[1].span(200) / 2
        if 0 < starts[0] < 200 - 4 and 0 < starts[1] < 200 - 29:  # not clipped at an edge
            assert abs(c0 - c1) <= 1


def test_rho_clips_start_independently_and_uniformly():
    views = [ViewSpec(8, 1)] * 4
    starts = np.array([sample_starts(np.random.default_rng(s), 48, views, "rho")[0] for s in range(4000)])
    assert starts.min() == 0 and starts.max() == 40
    corr = np.corrcoef(starts.T)
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.06
    assert abs(starts.mean() - 20) < 0.6


def test_free_intervals():
    from vcl_core.data.views import free_intervals

    assert free_intervals(20, [(3, 6), (5, 9), (15, 30)]) == [(0, 3), (9, 15)]
    assert free_intervals(10, []) == [(0, 10)]
    assert free_intervals(10, [(0, 10)]) == []


def test_negative_windows_are_disjoint_from_each_other_and_the_positives():
    from vcl_core.data.views import sample_negative_starts

    span, n = 8, 64
    seen = set()
    for s in range(500):
        rng = np.random.default_rng(s)
        blocked = [(10, 18), (30, 38)]
        starts = sample_negative_starts(rng, n, span, 3, blocked)
        wins = [(a, a + span) for a in starts]
        assert starts == sorted(starts) and all(0 <= a and b <= n for a, b in wins)
        for i, (a, b) in enumerate(wins):
            assert all(b <= c or d <= a for c, d in blocked)
            assert all(b <= c or d <= a for c, d in wins[i + 1:])
        seen.update(starts)
    # every start that can host a negative is used at some point
    feasible = {a for a in range(n - span + 1) if a + span <= 10 or 18 <= a <= 30 - span or a >= 38}
    assert seen == feasible


def test_negatives_fall_back_to_avoiding_the_anchor_then_give_up():
    from vcl_core.data.views import sample_negative_starts

    rng = np.random.default_rng(0)
    # positives fill the video, the anchor alone leaves room for 2 windows of 8
    starts = sample_negative_starts(rng, 32, 8, 2, blocked=[(0, 32)], fallback=[(0, 16)])
    assert len(starts) == 2 and all(a >= 16 for a in starts) and starts[1] - starts[0] >= 8
    with pytest.raises(ClipTooShort, match="intra_negatives"):
        sample_negative_starts(rng, 32, 8, 3, blocked=[(0, 32)], fallback=[(0, 16)])
    assert sample_negative_starts(rng, 32, 8, 0, blocked=[(0, 32)]) == []
