"""Weeks 6-7's coding exercises: the reference modules pass, realistic wrong modules fail with a reason."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace
from torch import nn

from utils.exercises import week06

SOLUTIONS = solution_namespace("week06_cnn_architectures")
ResidualBlock = SOLUTIONS["ResidualBlock"]
SqueezeExcitation = SOLUTIONS["SqueezeExcitation"]


class NoReluAfterTheSum(ResidualBlock):
    def forward(self, x):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x)


class ConvolutionsWithBias(ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)


class StrideOnTheSecondConvolution(ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class ProjectionOnlyForNewChannels(ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if in_channels == out_channels:
            self.shortcut = nn.Identity()


class ShortcutWithoutBatchNorm(ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        if not isinstance(self.shortcut, nn.Identity):
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class NoPadding(ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, bias=False)


class LayersInAnotherOrder(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(out_channels), nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


class LinearGate(nn.Module):  # a right answer written with nn.Linear
    def __init__(self, channels, squeeze_channels):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(channels, squeeze_channels), nn.Linear(squeeze_channels, channels)

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(F.silu(self.fc1(x.mean(dim=(2, 3))))))
        return x * gate[:, :, None, None]


class ReluGate(SqueezeExcitation):
    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))


class NoSigmoid(SqueezeExcitation):
    def forward(self, x):
        return x * self.fc2(F.silu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))


class ReturnsTheGate(SqueezeExcitation):
    def forward(self, x):
        return torch.sigmoid(self.fc2(F.silu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))


class GateWithoutBias(SqueezeExcitation):
    def __init__(self, channels, squeeze_channels):
        super().__init__(channels, squeeze_channels)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1, bias=False)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1, bias=False)


def test_the_reference_modules_pass():
    assert week06.check_residual_block(ResidualBlock)
    assert week06.check_squeeze_excitation(SqueezeExcitation)


def test_a_gate_of_linear_layers_passes_too():
    assert week06.check_squeeze_excitation(LinearGate)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (NoReluAfterTheSum, "apply the ReLU once, after the addition"),
        (ConvolutionsWithBias, "did you give the convolutions a bias?"),
        (StrideOnTheSecondConvolution, "the output in training mode"),
        (ProjectionOnlyForNewChannels, "when the stride or the number of channels changes"),
        (ShortcutWithoutBatchNorm, "needs its batch norm"),
        (NoPadding, "your forward raised RuntimeError"),
        (LayersInAnotherOrder, "define the layers in the order the task gives"),
    ],
)
def test_a_wrong_block_fails_with_the_reason(wrong, fragment):
    result = week06.check_residual_block(wrong)
    assert result.status == "failed" and fragment in result.message, result.message


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (ReluGate, "values are wrong"),
        (NoSigmoid, "values are wrong"),
        (ReturnsTheGate, "the shape should be (2, 8, 5, 7)"),
        (GateWithoutBias, "both layers of the gate have a bias"),
    ],
)
def test_a_wrong_gate_fails_with_the_reason(wrong, fragment):
    result = week06.check_squeeze_excitation(wrong)
    assert result.status == "failed" and fragment in result.message, result.message


def test_a_detached_output_is_named():
    class Detached(SqueezeExcitation):
        def forward(self, x):
            return super().forward(x).detach()

    result = week06.check_squeeze_excitation(Detached)
    assert result.status == "failed" and "not connected to the autograd graph" in result.message


@pytest.mark.parametrize("checker", [week06.check_residual_block, week06.check_squeeze_excitation])
def test_a_stub_is_not_done_yet(checker):
    class Stub(nn.Module):
        def __init__(self, *args):
            super().__init__()
            raise NotImplementedError("build the layers")

    assert checker(Stub).status == "not implemented"
