"""Fine-tuning protocol on in-memory videos whose class is their brightness."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from eval_helpers import TinyConv3d, brightness_videos
from vcl_core.eval import FeatureBank, FinetuneConfig, MeanFrameEncoder, finetune_classifier
from vcl_core.eval.finetune import finetune_block

VIEW = dict(num_frames=4, stride=2, crop_size=16, num_clips=2, whole_frames=6)


def _bank(encoder, video_encoder=None):
    index, source = brightness_videos()
    return FeatureBank(encoder, index.split("train"), index.split("test"), source, video_encoder=video_encoder,
                       batch_size=6, **VIEW)


class MaxOverClips(nn.Module):
    """A video-level module with its own parameters: clip encoder, max over clips, linear map."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder, self.proj = encoder, nn.Linear(16, 8)

    def forward(self, clips):
        b, k = clips.shape[:2]
        return self.proj(self.encoder(clips.flatten(0, 1)).reshape(b, k, -1).amax(1))


def test_finetune_learns_leaves_the_encoder_and_rng_alone():
    bank = _bank(TinyConv3d())
    before = {k: v.clone() for k, v in bank.encoder.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    y_train = np.repeat(np.arange(3), 6)
    y_test = np.repeat(np.arange(3), 3)
    res = finetune_classifier(bank.encoder, bank.dataset("clips", "train"), y_train, bank.dataset("clips", "test"),
                              y_test, 3, FinetuneConfig(epochs=12, lr=1e-2, batch_size=6), level="clip")
    assert set(res) == {"clip", "clips", "epoch_loss"} and len(res["epoch_loss"]) == 12
    assert res["epoch_loss"][-1] < res["epoch_loss"][0]
    assert res["clips"] >= 0.8 and res["clip"] >= 0.8  # chance 1/3
    for k, v in bank.encoder.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    runs = [finetune_classifier(bank.encoder, bank.dataset("whole", "train"), y_train, bank.dataset("whole", "test"),
                                y_test, 3, FinetuneConfig(epochs=1, batch_size=6), level="whole") for _ in range(2)]
    assert runs[0] == runs[1]  # seeded: the same numbers twice


def test_finetune_block_reports_every_view_under_its_own_name():
    bank = _bank(TinyConv3d(), video_encoder=MaxOverClips(TinyConv3d(seed=1)))
    out = finetune_block(bank, FinetuneConfig(epochs=2, batch_size=6), ("clip", "clips", "whole", "video_model"),
                         ["level"])
    assert set(out["views"]) == {"clip", "clips", "whole", "video_model"}
    for view in out["views"].values():
        assert set(view["level"]) == {"finetune_top1"} and 0 <= view["level"]["finetune_top1"] <= 1
    assert set(out["epoch_loss"]) == {"clip", "whole", "video_model"}
    assert out["settings"]["optimizer"] == "AdamW"


def test_frozen_body_trains_only_the_head_and_plain_callables_are_not_finetuned():
    enc = MeanFrameEncoder(grid=2)  # no parameters at all: only the head can learn
    bank = _bank(enc, video_encoder=lambda clips: enc(clips[:, 0]))
    out = finetune_block(bank, FinetuneConfig(epochs=4, lr=5e-2, batch_size=6), ("whole", "video_model"), ["level"])
    assert out["views"]["whole"]["level"]["finetune_top1"] >= 0.8  # brightness is linear in the frozen features
    assert "video_model" not in out["views"]
    assert "not an nn.Module" in out["settings"]["notes"]["video_model"]


def test_bad_settings_fail_with_a_message():
    with pytest.raises(ValueError, match="epochs >= 1"):
        FinetuneConfig(epochs=0)
    bank = _bank(TinyConv3d())
    ds = bank.dataset("whole", "train")
    with pytest.raises(ValueError, match="unknown fine-tuning level"):
        finetune_classifier(bank.encoder, ds, np.zeros(18, int), ds, np.zeros(18, int), 3, FinetuneConfig(),
                            level="frames")
    with pytest.raises(ValueError, match="at least one labelled"):
        finetune_classifier(bank.encoder, ds, np.full(18, -1), ds, np.zeros(18, int), 3, FinetuneConfig(),
                            level="whole")
