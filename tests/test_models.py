import pytest
import torch
from torch import nn

import utils


@pytest.mark.parametrize("size,kernel,stride,padding,dilation", [
    (28, 5, 1, 2, 1), (28, 3, 2, 0, 1), (32, 3, 1, 1, 2), (7, 7, 1, 0, 1), (15, 4, 3, 2, 2),
])
def test_conv_output_size_matches_pytorch(size, kernel, stride, padding, dilation):
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    expected = conv(torch.zeros(1, 1, size, size)).shape[-1]
    assert utils.conv_output_size(size, kernel, stride, padding, dilation) == expected


def test_conv_output_size_bad_input():
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        utils.conv_output_size(28, 3, stride=0)
    with pytest.raises(ValueError, match="kernel spans"):
        utils.conv_output_size(3, 5)


def test_count_parameters():
    layer = nn.Linear(10, 3)
    assert utils.count_parameters(layer) == 33
    layer.bias.requires_grad_(False)
    assert utils.count_parameters(layer) == 30 and utils.count_parameters(layer, trainable_only=False) == 33
    with pytest.raises(TypeError):
        utils.count_parameters("not a model")


@pytest.mark.parametrize("model_class,params", [(utils.LeNet5, 61706), (utils.SmallCNN, None), (utils.MLP, None)])
def test_models_map_digits_to_ten_logits(model_class, params):
    model = model_class()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    if params is not None:
        assert utils.count_parameters(model) == params


def test_lenet5_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        utils.LeNet5()(torch.zeros(2, 3, 32, 32))
