import pytest
import torch
from torch import nn

import utils
from utils.explain import (
    GradCAM, centre_of_mass, explanation_inside_box, occlusion_sensitivity, place_on_canvas, random_positions,
    saliency_map, show_explanations,
)


class SpotNet(nn.Module):
    """A hand-built network: class 1's score is the total brightness seen by a 3x3 box filter, class 0 its negative."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        nn.init.constant_(self.conv.weight, 1.0)
        self.relu = nn.ReLU()

    def forward(self, x):
        score = self.relu(self.conv(x)).mean((1, 2, 3))
        return torch.stack([-score, score], dim=1)


def spot_image(row, col, size=20):
    image = torch.zeros(1, 1, size, size)
    image[..., row - 1:row + 2, col - 1:col + 2] = 1.0
    return image


def test_gradcam_of_a_hand_built_network_points_at_the_bright_spot():
    model = SpotNet()
    for row, col in [(4, 5), (15, 12)]:
        with GradCAM(model, model.conv) as cam:
            heat = cam(spot_image(row, col), target=1)
        assert heat.shape == (1, 20, 20)
        peak = divmod(int(heat[0].argmax()), 20)
        assert abs(peak[0] - row) <= 1 and abs(peak[1] - col) <= 1
        centre = centre_of_mass(heat)[0]
        assert abs(centre[0] - row) < 1.5 and abs(centre[1] - col) < 1.5


class TwoSpotNet(nn.Module):
    """A hand-built network whose Grad-CAM layer copies its two input channels; class 0's score is the mean of
    channel 0 minus the mean of channel 1, so channel 1's Grad-CAM weight is negative."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(2).view(2, 2, 1, 1))

    def forward(self, x):
        channels = self.conv(x).mean((2, 3))
        score = channels[:, 0] - channels[:, 1]
        return torch.stack([score, -score], dim=1)


def test_gradcam_keeps_only_the_positive_evidence():
    image = torch.zeros(1, 2, 12, 12)
    image[0, 0, 2:5, 2:5] = 1.0  # for class 0
    image[0, 1, 7:10, 6:9] = 1.0  # against class 0: there the weighted sum is negative
    model = TwoSpotNet()
    with GradCAM(model, model.conv) as cam:
        heat = cam(image, target=0)
    torch.testing.assert_close(cam.gradients.mean((2, 3))[0], torch.tensor([1.0, -1.0]) / 144)  # channel weights
    # by hand: weighted sum (A_0 - A_1) / 144, ReLU, no resizing (the layer keeps 12 x 12), scaled to [0, 1]
    expected = (image[:, 0] - image[:, 1]).clamp_min(0)
    torch.testing.assert_close(heat, expected, rtol=0, atol=1e-6)
    assert heat[0, 7:10, 6:9].eq(0).all() and heat[0, 0, 0] == 0  # the evidence against and the background


def test_gradcam_removes_its_hooks_and_rejects_foreign_layers():
    model = SpotNet()
    with GradCAM(model, model.conv):
        assert model.conv._forward_hooks
    assert not model.conv._forward_hooks and not model.conv._backward_hooks
    with pytest.raises(ValueError, match="one of model's modules"):
        GradCAM(model, nn.Conv2d(1, 1, 3))
    inplace = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(inplace=True))
    with pytest.raises(ValueError, match="in place"):
        GradCAM(inplace, inplace[1])


def test_saliency_and_occlusion_light_up_the_spot_and_are_normalised():
    model = SpotNet()
    image = spot_image(10, 6)
    saliency = saliency_map(model, image, target=1)
    occlusion = occlusion_sensitivity(model, image, target=1, patch=4, stride=2)
    for heat in (saliency, occlusion):
        assert heat.shape == (1, 20, 20)
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
        centre = centre_of_mass(heat)[0]
        assert abs(centre[0] - 10) < 2.5 and abs(centre[1] - 6) < 2.5


def test_explanations_reject_bad_input():
    model = SpotNet()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        saliency_map(model, torch.zeros(20, 20))
    with pytest.raises(TypeError):
        saliency_map(model, [[0.0]])
    with pytest.raises(ValueError, match="one class per image"):
        saliency_map(model, torch.zeros(2, 1, 20, 20), target=[1, 0, 1])
    with pytest.raises(ValueError, match="larger than the images"):
        occlusion_sensitivity(model, torch.zeros(1, 1, 20, 20), patch=30)


def test_place_on_canvas_and_box_check():
    digits = torch.rand(2, 1, 28, 28)
    canvas = place_on_canvas(digits, 48, [[0, 0], [20, 10]])
    assert canvas.shape == (2, 1, 48, 48)
    assert torch.equal(canvas[1, :, 20:48, 10:38], digits[1]) and canvas[1, :, :20].sum() == 0
    with pytest.raises(ValueError, match="fit inside"):
        place_on_canvas(digits, 48, [[0, 0], [21, 0]])
    with pytest.raises(ValueError, match="one per image"):
        place_on_canvas(digits, 48, [[0, 0]])
    positions = random_positions(50, 28, 48, torch.Generator().manual_seed(0))
    assert positions.min() >= 0 and positions.max() <= 20
    heat = torch.zeros(1, 48, 48)
    heat[0, 30, 15] = 1.0
    assert explanation_inside_box(heat, torch.tensor([[20, 10]]), 28).tolist() == [True]
    assert explanation_inside_box(heat, torch.tensor([[0, 0]]), 28).tolist() == [False]


def test_show_explanations_draws_one_row_per_image():
    import matplotlib.pyplot as plt

    images = torch.rand(2, 1, 20, 20)
    fig = show_explanations(images, {"a": torch.rand(2, 20, 20), "b": torch.rand(2, 20, 20)})
    assert len(fig.axes) == 6
    plt.close(fig)
    with pytest.raises(ValueError, match="expected"):
        show_explanations(images, {"a": torch.rand(3, 20, 20)})
