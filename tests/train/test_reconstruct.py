"""The masked-reconstruction task: what it hides, what it predicts, where its cells are."""
import torch

from vcl_core.models import create_fast_slow
from vcl_core.train.tasks.reconstruct import MaskedReconstruction, cell_targets, map_size, tube_mask


def test_tube_mask_hides_the_same_share_of_cells_in_every_clip():
    u = torch.rand(5, 16, generator=torch.Generator().manual_seed(0))
    hide = tube_mask(u, 4, 4, 0.5)
    assert hide.shape == (5, 4, 4) and hide.flatten(1).sum(1).tolist() == [8] * 5
    torch.testing.assert_close(tube_mask(u, 4, 4, 0.5), hide)        # a function of the draws
    assert len({tuple(h.flatten().tolist()) for h in hide}) > 1       # clips draw their own cells
    # the hidden cells are those with the smallest draws
    assert bool(u[0][hide[0].flatten()].max() < u[0][~hide[0].flatten()].min())


def test_cell_targets_standardise_each_cell():
    frame = torch.randn(2, 3, 32, 32)
    frame[0, :, :8, :8] = 0.7  # a constant cell
    t = cell_targets(frame, 4, 4, 4)
    assert t.shape == (2, 4, 4, 48)
    torch.testing.assert_close(t[1].mean(-1), torch.zeros(4, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(t[1].std(-1, correction=0), torch.ones(4, 4), atol=1e-3, rtol=0)
    assert t[0, 0, 0].abs().max() < 1e-3
    # cell (r, c) holds the frame's pixels of rows 8r..8r+7, columns 8c..8c+7 (area-downsampled)
    small = torch.nn.functional.avg_pool2d(frame[1:], 2)[0, :, 4:8, 8:12]
    ref = (small - small.mean()) / small.std(correction=0)
    torch.testing.assert_close(t[1, 1, 2], ref.flatten(), atol=1e-4, rtol=0)


def test_map_size_is_the_encoders():
    enc = create_fast_slow(widths=(8, 16, 32), beta=0.5)
    for h, w in ((32, 32), (33, 31), (20, 44)):
        f, s = enc.feature_maps(torch.zeros(1, 3, 4, h, w))
        assert f.shape[-2:] == s.shape[-2:] == map_size(h, w, 3)


def test_the_encoder_sees_the_clip_with_the_hidden_tubes_blanked():
    """Hidden cells are zero in every frame of what the encoder reads; visible ones are the clip."""
    from vcl_core.data import ViewLayout
    from vcl_core.train import load_config
    from vcl_core.train.tasks import TaskInputs

    cfg = load_config("synthetic", ["model.widths=[8,16,32]", "method.aux.reconstruct=1"])
    task = MaskedReconstruction(cfg, 0)
    enc = create_fast_slow(widths=(8, 16, 32), beta=0.5)
    seen = []
    original = enc.feature_maps
    enc.feature_maps = lambda x: (seen.append(x), original(x))[1]
    clip = torch.randn(3, 3, 8, 32, 32) + 5.0
    layout = ViewLayout(("short",), (8,))
    inputs = TaskInputs([clip], {}, {"sample_seed": torch.tensor([1, 2, 3])}, layout, encode=enc)
    loss = task(inputs)
    assert torch.isfinite(loss)
    (x,) = seen
    cells = x.reshape(3, 3, 8, 4, 8, 4, 8)                      # (B, C, T, row, 8, col, 8)
    blank = (cells == 0).all(dim=(1, 2, 4, 6))                  # (B, 4, 4): zero in every frame
    kept = (cells == clip.reshape(3, 3, 8, 4, 8, 4, 8)).all(dim=(1, 2, 4, 6))
    assert (blank ^ kept).all() and blank.flatten(1).sum(1).tolist() == [8, 8, 8]
    torch.testing.assert_close(blank, tube_mask(inputs.uniform(16), 4, 4, 0.5))
