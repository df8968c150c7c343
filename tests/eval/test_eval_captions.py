"""Captions: BLEU against hand computations, template round trip, decoder and retrieval."""
import itertools
import math

import numpy as np
import pytest

from vcl_core.data.synthetic import MOTIONS, ORDERS, SHAPES
from vcl_core.eval import CaptionConfig, corpus_bleu, parse_caption, render_caption, tokenize
from vcl_core.eval.captions import (Vocab, caption_retrieval, caption_slots, generate_captions, slot_accuracy,
                                    train_decoder)


def test_bleu_matches_a_hand_computation():
    hyp = "the cat sat on the mat".split()
    ref = "the cat is on the mat".split()
    # clipped precisions: 1-grams 5/6, 2-grams 3/5 (the cat, on the, the mat),
    # 3-grams 1/4 (on the mat), 4-grams 0/3; equal lengths so no brevity penalty
    b = corpus_bleu([hyp], [[ref]])
    assert b["bleu1"] == pytest.approx(5 / 6)
    assert b["bleu2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))  # = sqrt(1/2)
    assert b["bleu3"] == pytest.approx(0.5)  # (5/6 * 3/5 * 1/4) ** (1/3) = (1/8) ** (1/3)
    assert b["bleu4"] == 0.0


def test_bleu_brevity_penalty_clipping_and_corpus_sums():
    short = corpus_bleu([["the", "cat"]], [["the cat sat on the mat".split()]])
    assert short["bleu1"] == pytest.approx(math.exp(1 - 6 / 2))  # p1 = 1, BP = e^(1 - r/c)
    assert short["bleu2"] == pytest.approx(math.exp(-2))
    clipped = corpus_bleu([["the"] * 3], [[["the", "cat"]]], max_n=1)
    assert clipped["bleu1"] == pytest.approx(1 / 3)  # "the" counts once; c = 3 > r = 2: no penalty
    # corpus level: counts are summed before dividing (2/3 + 2/2 -> 4/5), not averaged per sentence
    corp = corpus_bleu([["a", "b", "x"], ["c", "d"]], [[["a", "b", "c"]], [["c", "d"]]], max_n=1)
    assert corp["bleu1"] == pytest.approx(4 / 5)
    # several references: the best count per n-gram and the closest length
    multi = corpus_bleu([["a", "a", "b"]], [[["a", "b", "c", "d"], ["a", "a", "b"]]])
    assert multi["bleu4"] == 0.0 and multi["bleu3"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one non-empty list"):
        corpus_bleu([["a"]], [[]])


def test_every_template_caption_parses_back_to_its_slots():
    for shape, motion, order in itertools.product(SHAPES, MOTIONS, ORDERS):
        text = render_caption(shape, motion, order)
        slots = parse_caption(tokenize(text))
        assert slots["shape"] == shape and slots["motion"] == motion.split("_")[1]
        assert "".join(slots[f"phase{i}"][0] for i in (1, 2, 3)) == order.replace("H", "s").replace(
            "V", "v").replace("O", "a")
    assert render_caption("circle", "drift_left", "VOH") == \
        "a circle whose texture drifts left, moving vertically, then around, then sideways"
    assert parse_caption("a circle whose texture drifts".split()) is None
    with pytest.raises(ValueError, match="cannot caption"):
        render_caption("circle", "spin", "HVO")


def test_slot_accuracy_counts_each_slot():
    truth = [caption_slots("circle", "drift_left", "HVO")] * 2
    good = tokenize(render_caption("circle", "drift_left", "HVO"))
    wrong_order = tokenize(render_caption("circle", "drift_left", "HOV"))
    acc = slot_accuracy([good, wrong_order], truth)
    assert acc["shape"] == acc["motion"] == acc["phase1"] == 1.0
    assert acc["phase2"] == acc["phase3"] == acc["order"] == acc["all"] == 0.5
    assert slot_accuracy([["garbage"]], truth[:1])["shape"] == 0.0


def _factor_data(seed, n, informative):
    """Features that one-hot encode the factors (or are pure noise), with their captions."""
    rng = np.random.default_rng(seed)
    combos = list(itertools.product(SHAPES, MOTIONS, ORDERS))
    picks = [combos[i] for i in rng.integers(len(combos), size=n)]
    onehot = np.array([[s == a for a in SHAPES] + [m == b for b in MOTIONS] + [o == c for c in ORDERS]
                       for s, m, o in picks], dtype=float)
    x = onehot + rng.normal(0, 0.1, onehot.shape) if informative else rng.normal(0, 1, onehot.shape)
    return x, [tokenize(render_caption(*p)) for p in picks], [caption_slots(*p) for p in picks]


def test_decoder_learns_captions_from_informative_features_only():
    vocab = Vocab([w for p in itertools.product(SHAPES, MOTIONS, ORDERS) for w in tokenize(render_caption(*p))])
    cfg = CaptionConfig(steps=60)
    accs = {}
    for informative in (True, False):
        xtr, ctr, _ = _factor_data(0, 120, informative)
        xte, _, ste = _factor_data(1, 60, informative)
        dec, loss = train_decoder(xtr, ctr, vocab, cfg)
        assert loss[1] < loss[0]
        gen = generate_captions(dec, xte, vocab, 20)
        accs[informative] = slot_accuracy(gen, ste)
        assert np.mean([parse_caption(g) is not None for g in gen]) > 0.9  # the template is learnt either way
    assert accs[True]["shape"] > 0.9 and accs[True]["motion"] > 0.9 and accs[True]["order"] > 0.6
    assert accs[False]["shape"] < 0.5 and accs[False]["order"] < 0.4  # chance: 1/4 and 1/6


def test_caption_retrieval_finds_the_caption_of_informative_features():
    gallery = [tokenize(render_caption(*p)) for p in itertools.product(SHAPES, MOTIONS, ORDERS)]
    vocab = Vocab([w for c in gallery for w in c])
    xtr, ctr, _ = _factor_data(0, 200, True)
    xte, cte, _ = _factor_data(1, 50, True)
    good = caption_retrieval(xtr, ctr, xte, cte, gallery, vocab, ridge=1.0)
    assert good["gallery"] == 96 and good["r1"] > 0.9 and good["r5"] == 1.0
    xtr, ctr, _ = _factor_data(0, 200, False)
    xte, cte, _ = _factor_data(1, 50, False)
    bad = caption_retrieval(xtr, ctr, xte, cte, gallery, vocab, ridge=1.0)
    assert bad["r1"] < 0.1 and bad["r5"] < 0.25  # chance 1/96 and 5/96
    with pytest.raises(ValueError, match="not in the retrieval gallery"):
        caption_retrieval(xtr, ctr, xte[:1], [["a", "b"]], gallery, vocab)
