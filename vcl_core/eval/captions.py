"""Captioning from frozen features: template captions, a small decoder, BLEU, slot accuracy and
video-to-caption retrieval.

Captions. The synthetic benchmark's three factors are rendered by one template::

    a {shape} whose texture drifts {direction}, moving {phase1}, then {phase2}, then {phase3}

with ``direction`` one of left/right/up/down (the ``motion`` column, short-term) and the phases
``H`` -> "sideways", ``V`` -> "vertically", ``O`` -> "around" in the video's order (the
``order`` column, long-term). Every slot is one word, so a caption can be parsed back.

caption generation (protocol ``caption_decoder``)
    a one-layer GRU (Cho et al. 2014) whose initial state and every input step see a linear
    map of the standardised frozen video features (the concatenation of the video-level views
    run: ``clips``, ``whole``, ``video_model``), trained with teacher forcing and cross-entropy
    on the train videos' captions (full batch, Adam), decoded greedily on the test videos.
    Scored by corpus BLEU-1..4 (Papineni et al. 2002: clipped n-gram precisions, geometric
    mean with uniform weights, brevity penalty, no smoothing) and by *slot accuracy*: the share
    of test captions whose parsed ``shape`` / ``motion`` (direction) / ``phase1..3`` word is
    right, ``order`` when all three phases are right, ``all`` when every slot is. BLEU is
    inflated by the template's fixed words; slot accuracy is the informative number, to be
    read against ``slot_chance`` (always writing the train split's most frequent value).
video-to-caption retrieval (protocol ``caption_retrieval``)
    a caption's embedding is the L2-normalised one-hot of its word at every template
    position; a ridge regression (closed form) maps the standardised video features to it.
    Every test video ranks the gallery of all captions the template can produce from the
    classes present (``|shape| x |motion| x |order|``) by cosine similarity; R@k is the share of
    test videos whose own caption is among the top ``k`` (chance ``k / gallery``).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import product

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .feature_bank import FeatureBank

TEMPLATE = "a {shape} whose texture drifts {direction}, moving {phase1}, then {phase2}, then {phase3}"
DIRECTION_WORDS = {"drift_left": "left", "drift_right": "right", "drift_up": "up", "drift_down": "down"}
PHASE_WORDS = {"H": "sideways", "V": "vertically", "O": "around"}
#: label columns a caption is rendered from
CAPTION_COLUMNS = ("shape", "motion", "order")
SLOTS = ("shape", "motion", "phase1", "phase2", "phase3", "order", "all")
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
_PARSE = re.compile(r"^a (\S+) whose texture drifts (\S+) , moving (\S+) , then (\S+) , then (\S+)$")


# ----------------------------------------------------------------------------- captions

def render_caption(shape: str, motion: str, order: str) -> str:
    """The template caption of one video (``motion`` a ``drift_*`` class, ``order`` e.g. ``"HVO"``).

    Raises:
        ValueError: an unknown motion class or phase letter.
    """
    if motion not in DIRECTION_WORDS or len(order) != 3 or any(p not in PHASE_WORDS for p in order):
        raise ValueError(f"cannot caption motion={motion!r}, order={order!r}: expected one of "
                         f"{sorted(DIRECTION_WORDS)} and three letters of {sorted(PHASE_WORDS)}")
    return TEMPLATE.format(shape=shape.replace(" ", "_"), direction=DIRECTION_WORDS[motion],
                           **{f"phase{i + 1}": PHASE_WORDS[p] for i, p in enumerate(order)})


def tokenize(text: str) -> list[str]:
    """Lower-case words, with commas as tokens of their own."""
    return text.lower().replace(",", " , ").split()


def parse_caption(tokens: list[str]) -> dict[str, str] | None:
    """Slot words of a caption that follows the template, or ``None`` when it does not.

    Returns:
        ``{"shape", "motion", "phase1", "phase2", "phase3"}`` with ``motion`` the direction word.
    """
    m = _PARSE.match(" ".join(tokens))
    if m is None:
        return None
    return dict(zip(("shape", "motion", "phase1", "phase2", "phase3"), m.groups()))


def caption_slots(shape: str, motion: str, order: str) -> dict[str, str]:
    """The true slot words of a video (the keys of :func:`parse_caption`)."""
    return parse_caption(tokenize(render_caption(shape, motion, order)))


def slot_accuracy(generated: list[list[str]], truth: list[dict[str, str]]) -> dict[str, float]:
    """Share of captions whose slot is right, per slot of :data:`SLOTS`; unparseable captions
    are wrong in every slot."""
    hits = {s: 0 for s in SLOTS}
    for tokens, true in zip(generated, truth):
        got = parse_caption(tokens) or {}
        ok = {s: got.get(s) == true[s] for s in ("shape", "motion", "phase1", "phase2", "phase3")}
        ok["order"] = ok["phase1"] and ok["phase2"] and ok["phase3"]
        ok["all"] = all(ok.values())
        for s in SLOTS:
            hits[s] += ok[s]
    return {s: hits[s] / max(len(truth), 1) for s in SLOTS}


# ----------------------------------------------------------------------------- BLEU

def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: list[list[str]], references: list[list[list[str]]], max_n: int = 4) -> dict[str, float]:
    """Corpus BLEU-1..``max_n`` (Papineni et al., ACL 2002), without smoothing.

    Args:
        hypotheses: one token list per segment.
        references: per segment, one or more reference token lists.

    Returns:
        ``{"bleu1": ..., "bleu<max_n>": ...}``; ``bleuN = BP * exp(mean_{k<=N} log p_k)`` with
        ``p_k`` the corpus-level clipped ``k``-gram precision (0 when any ``p_k`` is 0) and
        ``BP = exp(1 - r / c)`` when the total hypothesis length ``c`` is below the total
        closest-reference length ``r``, else 1.

    Raises:
        ValueError: different numbers of hypotheses and references, or a segment without
            references.
    """
    if len(hypotheses) != len(references) or any(len(r) == 0 for r in references):
        raise ValueError("corpus_bleu needs one non-empty list of references per hypothesis")
    match, total = np.zeros(max_n), np.zeros(max_n)
    c = r = 0
    for hyp, refs in zip(hypotheses, references):
        c += len(hyp)
        # closest reference length, the shorter one on ties (as in the reference implementation)
        r += min((abs(len(ref) - len(hyp)), len(ref)) for ref in refs)[1]
        for n in range(1, max_n + 1):
            h = _ngrams(hyp, n)
            best: Counter = Counter()
            for ref in refs:
                best |= _ngrams(ref, n)
            match[n - 1] += sum(min(cnt, best[g]) for g, cnt in h.items())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    bp = 1.0 if c >= r else (np.exp(1 - r / c) if c > 0 else 0.0)
    out = {}
    for n in range(1, max_n + 1):
        p = match[:n] / np.maximum(total[:n], 1)
        out[f"bleu{n}"] = float(bp * np.exp(np.log(p).mean())) if (p > 0).all() else 0.0
    return out


# ----------------------------------------------------------------------------- decoder

class Vocab:
    """Word <-> index for a closed caption vocabulary (index 0 is padding)."""

    def __init__(self, words: list[str]):
        self.itos = [PAD, BOS, EOS] + sorted(set(words) - {PAD, BOS, EOS})
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str], length: int) -> list[int]:
        """``<bos> tokens <eos>`` padded to ``length``; raises ``KeyError`` on an unknown word."""
        ids = [self.stoi[BOS]] + [self.stoi[t] for t in tokens] + [self.stoi[EOS]]
        return ids + [self.stoi[PAD]] * (length - len(ids))

    def decode(self, ids: list[int]) -> list[str]:
        """Words up to the first ``<eos>``, special tokens removed."""
        out = []
        for i in ids:
            w = self.itos[i]
            if w == EOS:
                break
            if w not in (PAD, BOS):
                out.append(w)
        return out


class CaptionDecoder(nn.Module):
    """A GRU language model conditioned on a video feature.

    Args:
        feat_dim: ``F``, width of the (standardised) video feature.
        vocab_size: words including ``<pad>``, ``<bos>``, ``<eos>``.
        hidden: GRU state size; embed: word embedding size.
    """

    def __init__(self, feat_dim: int, vocab_size: int, hidden: int = 64, embed: int = 32):
        super().__init__()
        self.init = nn.Linear(feat_dim, hidden)
        self.context = nn.Linear(feat_dim, embed)
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.gru = nn.GRU(2 * embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, feats: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-word logits ``(B, L, V)`` for input words ``(B, L)`` and
        features ``(B, F)``."""
        ctx = self.context(feats)[:, None].expand(-1, tokens.shape[1], -1)
        h0 = torch.tanh(self.init(feats))[None]
        y, _ = self.gru(torch.cat([self.embed(tokens), ctx], -1), h0)
        return self.out(y)

    @torch.no_grad()
    def generate(self, feats: torch.Tensor, max_len: int, bos: int = 1) -> torch.Tensor:
        """Greedy decoding: word indices ``(B, max_len)`` for features ``(B, F)``."""
        ctx = self.context(feats)[:, None]
        h = torch.tanh(self.init(feats))[None]
        word = torch.full((len(feats), 1), bos, dtype=torch.long)
        out = []
        for _ in range(max_len):
            y, h = self.gru(torch.cat([self.embed(word), ctx], -1), h)
            word = self.out(y).argmax(-1)
            out.append(word)
        return torch.cat(out, 1)


@dataclass(frozen=True)
class CaptionConfig:
    """Settings of the captioning block.

    Args:
        hidden, embed: decoder sizes.
        steps: full-batch Adam steps of the decoder.
        lr: Adam learning rate; weight_decay: its L2 penalty.
        ridge: L2 penalty of the retrieval map.
        examples: generated captions copied into the results.
    """

    hidden: int = 64
    embed: int = 32
    steps: int = 100
    lr: float = 1e-2
    weight_decay: float = 1e-4
    ridge: float = 1.0
    examples: int = 3

    def __post_init__(self) -> None:
        if min(self.hidden, self.embed, self.steps) < 1 or self.lr <= 0 or self.ridge < 0 or self.examples < 0:
            raise ValueError(f"CaptionConfig needs positive sizes, steps and lr, ridge >= 0, examples >= 0; got {self}")


def train_decoder(train_x: np.ndarray, captions: list[list[str]], vocab: Vocab, cfg: CaptionConfig,
                  seed: int = 0) -> tuple[CaptionDecoder, list[float]]:
    """Fit a :class:`CaptionDecoder` on standardised ``(N, F)`` features and tokenised captions.

    Returns:
        The decoder (eval mode) and the loss at the first and the last step.
    """
    length = max(len(c) for c in captions) + 2
    ids = torch.tensor([vocab.encode(c, length) for c in captions])
    x = torch.as_tensor(train_x, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dec = CaptionDecoder(x.shape[1], len(vocab), cfg.hidden, cfg.embed)
    opt = torch.optim.Adam(dec.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses = []
    for _ in range(cfg.steps):
        logits = dec(x, ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), ids[:, 1:].reshape(-1), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dec.eval(), [losses[0], losses[-1]]


def generate_captions(decoder: CaptionDecoder, x: np.ndarray, vocab: Vocab, max_len: int) -> list[list[str]]:
    """Greedy captions (token lists) of ``(N, F)`` features, at most ``max_len`` words each."""
    ids = decoder.generate(torch.as_tensor(x, dtype=torch.float32), max_len + 1, vocab.stoi[BOS])
    return [vocab.decode(row.tolist()) for row in ids]


# ----------------------------------------------------------------------------- retrieval

def caption_embedding(captions: list[list[str]], vocab: Vocab, length: int) -> np.ndarray:
    """L2-normalised positional one-hot ``(N, length * |vocab|)`` of tokenised captions."""
    out = np.zeros((len(captions), length, len(vocab)), np.float64)
    for i, c in enumerate(captions):
        for j, w in enumerate(c[:length]):
            out[i, j, vocab.stoi[w]] = 1.0
    out = out.reshape(len(captions), -1)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def ridge_map(train_x: np.ndarray, train_y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """Closed-form ridge regression from standardised ``(N, F)`` to ``(N, E)``.

    Returns:
        ``(mean, std, W, bias)`` such that ``((x - mean) / std) @ W + bias`` predicts ``y``.
    """
    mu, sd = train_x.mean(0), np.maximum(train_x.std(0), 1e-6)
    x = (train_x - mu) / sd
    ybar = train_y.mean(0)
    w = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ (train_y - ybar))
    return mu, sd, w, ybar


def caption_retrieval(train_x: np.ndarray, train_caps: list[list[str]], test_x: np.ndarray,
                      test_caps: list[list[str]], gallery: list[list[str]], vocab: Vocab, ridge: float = 1.0,
                      ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Video-to-caption R@k (see the module docstring): ``{"r1": ..., "r5": ..., "gallery": G}``.

    Raises:
        ValueError: a test caption is not in the gallery.
    """
    length = max(len(c) for c in gallery + train_caps)
    mu, sd, w, b = ridge_map(train_x, caption_embedding(train_caps, vocab, length), ridge)
    pred = ((test_x - mu) / sd) @ w + b
    pred /= np.maximum(np.linalg.norm(pred, axis=1, keepdims=True), 1e-12)
    sims = pred @ caption_embedding(gallery, vocab, length).T
    where = {" ".join(c): i for i, c in enumerate(gallery)}
    try:
        target = np.array([where[" ".join(c)] for c in test_caps])
    except KeyError as e:
        raise ValueError(f"test caption {e} is not in the retrieval gallery") from None
    rank = (sims > sims[np.arange(len(target)), target][:, None]).sum(1)  # 0 = retrieved first
    return {**{f"r{k}": float((rank < k).mean()) for k in ks}, "gallery": len(gallery)}


# ----------------------------------------------------------------------------- block

def _video_features(bank: FeatureBank, views: list[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated features of several video-level views, on videos readable in all of them."""
    parts = [bank.samples(v, split) for v in views]
    common = sorted(set.intersection(*(set(vids.tolist()) for _, vids in parts)))
    rows = [np.searchsorted(vids, common) for _, vids in parts]
    return np.concatenate([x[r] for (x, _), r in zip(parts, rows)], axis=1), np.array(common, dtype=np.int64)


def captioning_block(bank: FeatureBank, cfg: CaptionConfig, views: tuple[str, ...]) -> dict:
    """The ``captioning`` block of the results schema.

    Returns:
        ``{"generation": {"bleu1".."bleu4", "slot_accuracy", "slot_chance", "parsed"},
        "retrieval": {"r1", "r5", "gallery", "chance_r1", "chance_r5"}, "examples": [...],
        "settings": {...}}``.

    Raises:
        ValueError: the dataset lacks one of :data:`CAPTION_COLUMNS`.
    """
    feat_views = [v for v in views if v != "clip"] or ["clips"]
    data = {}
    for split in ("train", "test"):
        x, vids = _video_features(bank, feat_views, split)
        recs = [bank.records[split][i] for i in vids]
        if any(not r.labels.get(c) for r in recs for c in CAPTION_COLUMNS):
            raise ValueError(f"captioning needs the label columns {CAPTION_COLUMNS} on every video")
        facts = [tuple(r.labels[c] for c in CAPTION_COLUMNS) for r in recs]
        data[split] = (x, [tokenize(render_caption(*f)) for f in facts], [caption_slots(*f) for f in facts], recs)
    xtr, ctr, str_, _ = data["train"]
    xte, cte, ste, rte = data["test"]
    values = [sorted({r.labels[c] for s in ("train", "test") for r in data[s][3]}) for c in CAPTION_COLUMNS]
    gallery = [tokenize(render_caption(*f)) for f in product(*values)]
    vocab = Vocab([w for c in gallery for w in c])
    mu, sd = xtr.mean(0), np.maximum(xtr.std(0), 1e-6)
    dec, loss = train_decoder((xtr - mu) / sd, ctr, vocab, cfg, bank.seed)
    gen = generate_captions(dec, (xte - mu) / sd, vocab, max(len(c) for c in gallery))
    majority = {s: Counter(t[s] for t in str_).most_common(1)[0][0] for s in ("shape", "motion", "phase1", "phase2",
                                                                               "phase3")}
    chance_caption = tokenize(TEMPLATE.format(direction=majority["motion"], **majority))
    generation = {**corpus_bleu(gen, [[c] for c in cte]), "slot_accuracy": slot_accuracy(gen, ste),
                  "slot_chance": slot_accuracy([chance_caption] * len(ste), ste),
                  "parsed": float(np.mean([parse_caption(g) is not None for g in gen]))}
    retrieval = caption_retrieval(xtr, ctr, xte, cte, gallery, vocab, cfg.ridge)
    retrieval.update(chance_r1=1 / len(gallery), chance_r5=min(5, len(gallery)) / len(gallery))
    examples = [{"video_id": r.video_id, "reference": " ".join(c).replace(" ,", ","),
                 "generated": " ".join(g).replace(" ,", ",")} for r, c, g in list(zip(rte, cte, gen))[:cfg.examples]]
    return {"generation": generation, "retrieval": retrieval, "examples": examples,
            "settings": {"views": feat_views, "feature_dim": int(xtr.shape[1]), "template": TEMPLATE,
                         "decoder": f"GRU(hidden={cfg.hidden}, embed={cfg.embed})", "steps": cfg.steps,
                         "lr": cfg.lr, "weight_decay": cfg.weight_decay, "loss_first_last": loss,
                         "ridge": cfg.ridge, "train_videos": len(ctr), "test_videos": len(cte)}}
