"""The pseudo-motion task's clips: a box of a still frame slides in the labelled direction,
relative to a frame that pans like a camera. Checked pixel by pixel on integer shifts."""
import pytest
import torch

from vcl_core.train.tasks.pseudo_motion import DIRECTIONS, pseudo_motion_clips

H = W = 33  # odd, so that one pixel is exactly 2 / (W - 1) in grid_sample's [-1, 1] units


def _frame(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, H, W, generator=g)


def _px(pixels_per_frame):
    """Speed in frame widths per frame that moves content by ``pixels_per_frame`` pixels."""
    return pixels_per_frame / (W - 1)


CENTRE = torch.tensor([[0.25, 0.25, 0.75, 0.75]])  # rows and columns 9..24


@pytest.mark.parametrize("label", range(1, 5))
def test_the_box_moves_one_pixel_per_frame_in_its_direction(label):
    f = _frame()
    clips = pseudo_motion_clips(f, 4, torch.tensor([label]), torch.tensor([_px(1)]), torch.zeros(1, 2), CENTRE)
    dx, dy = (int(v) for v in DIRECTIONS[label])
    for t in range(4):
        frame_t = clips[0, :, t]
        # inside the box (away from its edge): the still frame moved by t pixels
        expected = torch.roll(f[0], shifts=(dy * t, dx * t), dims=(1, 2))
        torch.testing.assert_close(frame_t[:, 12:21, 12:21], expected[:, 12:21, 12:21])
        # outside the box: the still frame, untouched (no pan)
        torch.testing.assert_close(frame_t[:, :8], f[0, :, :8])


def test_still_label_with_a_pan_moves_the_whole_frame_together():
    f = _frame(1)
    pan = torch.tensor([[_px(1), _px(-1)]])  # right and up, one pixel per frame
    clips = pseudo_motion_clips(f, 3, torch.tensor([0]), torch.tensor([_px(2)]), pan, CENTRE)
    for t in range(3):
        expected = torch.roll(f[0], shifts=(-t, t), dims=(1, 2))
        torch.testing.assert_close(clips[0, :, t, 3:-3, 3:-3], expected[:, 3:-3, 3:-3])


def test_the_box_moves_relative_to_the_pan():
    """Label 'right' under a pan to the right: the box moves 1 + 1 pixels per frame, the rest 1."""
    f = _frame(2)
    pan = torch.tensor([[_px(1), 0.0]])
    clips = pseudo_motion_clips(f, 3, torch.tensor([2]), torch.tensor([_px(1)]), pan, CENTRE)
    t = 2
    torch.testing.assert_close(clips[0, :, t, 12:21, 12:21], torch.roll(f[0], 2 * t, 2)[:, 12:21, 12:21])
    torch.testing.assert_close(clips[0, :, t, 2:7, 5:-5], torch.roll(f[0], t, 2)[:, 2:7, 5:-5])


def test_the_four_directions_differ_and_frame_zero_is_the_still():
    f = _frame(3).expand(5, -1, -1, -1)
    clips = pseudo_motion_clips(f, 4, torch.arange(5), torch.full((5,), _px(1)), torch.zeros(5, 2), CENTRE.expand(5, -1))
    torch.testing.assert_close(clips[:, :, 0], f)
    last = clips[:, :, -1].flatten(1)
    assert torch.cdist(last, last).add(torch.eye(5) * 1e3).min() > 1.0


def test_a_moving_window_shows_content_moving_as_labelled():
    """The box slides down 2 px per frame; what is seen through it moves right 1 px per frame
    (the label), like a texture seen through a moving object; what it left shows the still."""
    f = _frame(4)
    clips = pseudo_motion_clips(f, 3, torch.tensor([2]), torch.tensor([_px(1)]), torch.zeros(1, 2), CENTRE,
                                box_velocity=torch.tensor([[0.0, 2 / H]]))
    t = 2  # the box now covers rows 13..28 (it started at 9..24)
    moved = torch.roll(f[0], t, 2)
    torch.testing.assert_close(clips[0, :, t, 14:27, 12:21], moved[:, 14:27, 12:21])
    torch.testing.assert_close(clips[0, :, t, 9:12, 12:21], f[0, :, 9:12, 12:21])
