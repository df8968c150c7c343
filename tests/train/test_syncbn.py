import torch
import torch.nn as nn

from vcl_core.models import FrameNorm, create_fast_slow
from vcl_core.train.syncbn import GlobalBatchNorm, convert_sync_batchnorm


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_conversion_keeps_parameters_statistics_and_outputs():
    torch.manual_seed(0)
    enc = create_fast_slow(widths=(8, 16, 32), norm="batch")
    enc.train()
    enc(torch.randn(4, 3, 8, 32, 32))  # non-trivial running statistics
    enc.eval()
    x = torch.randn(2, 3, 8, 32, 32)
    before, n_bn = enc(x), _count(enc, nn.modules.batchnorm._BatchNorm)
    out = convert_sync_batchnorm(enc)
    assert _count(out, GlobalBatchNorm) == n_bn > 0
    torch.testing.assert_close(out(x), before)


def test_single_process_training_matches_batchnorm():
    torch.manual_seed(0)
    bn = nn.BatchNorm3d(5)
    sync = convert_sync_batchnorm(bn)
    x = torch.randn(3, 5, 4, 6, 6)
    torch.testing.assert_close(sync(x), bn(x))
    torch.testing.assert_close(sync.running_mean, bn.running_mean)


def test_frame_and_group_norms_are_left_alone():
    for norm, kind in (("frame", FrameNorm), ("group", nn.GroupNorm)):
        enc = create_fast_slow(widths=(8, 16, 32), norm=norm)
        n = _count(enc, kind)
        out = convert_sync_batchnorm(enc)
        assert _count(out, kind) == n > 0 and _count(out, GlobalBatchNorm) == 0
