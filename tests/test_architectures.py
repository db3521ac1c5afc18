"""Weeks 6-7: the architecture blocks, the full-size networks against torchvision, and the measuring helpers."""

import pytest
import torch
import torchvision
from torch import nn

from utils import architectures as measure
from utils.models import architectures as arch
from utils.models import count_parameters


def conv_params(c_in, c_out, k, groups=1, bias=True):
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def bn_params(c):
    return 2 * c


# One row per block: the block, its input shape, the expected output shape, the expected parameter count
# computed by hand from the layer sizes (so a changed layer fails the test).
BLOCKS = [
    ("vgg_block", lambda: arch.vgg_block(3, 8, 2), (2, 3, 16, 16), (2, 8, 8, 8),
     conv_params(3, 8, 3) + conv_params(8, 8, 3)),
    ("nin_block", lambda: arch.nin_block(3, 8, 5, 1, 2), (2, 3, 16, 16), (2, 8, 16, 16),
     conv_params(3, 8, 5) + 2 * conv_params(8, 8, 1)),
    ("Inception", lambda: arch.Inception(8, 4, 4, 8, 2, 4, 4), (2, 8, 10, 10), (2, 20, 10, 10),
     sum(conv_params(a, b, k, bias=False) + bn_params(b)
         for a, b, k in [(8, 4, 1), (8, 4, 1), (4, 8, 3), (8, 2, 1), (2, 4, 5), (8, 4, 1)])),
    ("BasicBlock", lambda: arch.BasicBlock(8, 8), (2, 8, 10, 10), (2, 8, 10, 10),
     2 * (conv_params(8, 8, 3, bias=False) + bn_params(8))),
    ("BasicBlock stride 2", lambda: arch.BasicBlock(8, 16, 2), (2, 8, 10, 10), (2, 16, 5, 5),
     conv_params(8, 16, 3, bias=False) + conv_params(16, 16, 3, bias=False) + conv_params(8, 16, 1, bias=False)
     + 3 * bn_params(16)),
    ("plain block", lambda: arch.BasicBlock(8, 8, 2, skip=False), (2, 8, 10, 10), (2, 8, 5, 5),
     2 * (conv_params(8, 8, 3, bias=False) + bn_params(8))),
    ("Bottleneck", lambda: arch.Bottleneck(32, 8), (2, 32, 6, 6), (2, 32, 6, 6),
     conv_params(32, 8, 1, bias=False) + conv_params(8, 8, 3, bias=False) + conv_params(8, 32, 1, bias=False)
     + 2 * bn_params(8) + bn_params(32)),
    ("DenseBlock", lambda: arch.DenseBlock(8, 2, 4, bn_size=2), (2, 8, 6, 6), (2, 16, 6, 6),
     sum(bn_params(c) + conv_params(c, 8, 1, bias=False) + bn_params(8) + conv_params(8, 4, 3, bias=False)
         for c in (8, 12))),
    ("transition", lambda: arch.transition(16, 8), (2, 16, 6, 6), (2, 8, 3, 3),
     bn_params(16) + conv_params(16, 8, 1, bias=False)),
    ("InvertedResidual", lambda: arch.InvertedResidual(8, 8, 1, 6), (2, 8, 6, 6), (2, 8, 6, 6),
     conv_params(8, 48, 1, bias=False) + conv_params(48, 48, 3, groups=48, bias=False)
     + conv_params(48, 8, 1, bias=False) + 2 * bn_params(48) + bn_params(8)),
    ("SqueezeExcite", lambda: arch.SqueezeExcite(8, 2), (2, 8, 6, 6), (2, 8, 6, 6),
     conv_params(8, 2, 1) + conv_params(2, 8, 1)),
    ("MBConv", lambda: arch.MBConv(8, 16, 4, 5, 2), (2, 8, 6, 6), (2, 16, 3, 3),
     conv_params(8, 32, 1, bias=False) + conv_params(32, 32, 5, groups=32, bias=False) + conv_params(32, 2, 1)
     + conv_params(2, 32, 1) + conv_params(32, 16, 1, bias=False) + 2 * bn_params(32) + bn_params(16)),
    ("ConvNeXtBlock", lambda: arch.ConvNeXtBlock(8), (2, 8, 9, 9), (2, 8, 9, 9),
     conv_params(8, 8, 7, groups=8) + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 8),
    ("EncoderBlock", lambda: arch.EncoderBlock(8, 2, 16), (2, 5, 8), (2, 5, 8),
     2 * 2 * 8 + (3 * 8 * 8 + 3 * 8) + (8 * 8 + 8) + (8 * 16 + 16) + (16 * 8 + 8)),
    ("ViT", lambda: arch.ViT(8, 4, 8, 1, 2, 16, num_classes=3, in_channels=1), (2, 1, 8, 8), (2, 3),
     conv_params(1, 8, 4) + 8 + 5 * 8 + (2 * 2 * 8 + 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8 + 8 * 16 + 16 + 16 * 8 + 8)
     + 2 * 8 + (8 * 3 + 3)),
]  # fmt: skip


@pytest.mark.parametrize("make, in_shape, out_shape, params", [b[1:] for b in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_each_block_has_its_output_shape_and_parameter_count(make, in_shape, out_shape, params):
    block = make()
    assert block(torch.randn(in_shape)).shape == out_shape
    assert count_parameters(block) == params


def test_a_residual_block_adds_its_input_and_a_plain_one_does_not():
    block = arch.BasicBlock(4, 4)
    for p in block.f.parameters():
        nn.init.zeros_(p)  # f(x) = 0: the residual block is then relu(x), the plain one relu(0)
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(block.eval()(x), torch.relu(x))
    block.skip = False
    assert block(x).abs().sum() == 0


def test_squeeze_excite_only_rescales_channels():
    se = arch.SqueezeExcite(4, 2)
    x = torch.rand(1, 4, 3, 3) + 0.1
    ratio = se(x) / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio)) and (0 < ratio).all() and (ratio < 1).all()


@pytest.mark.parametrize("name", arch.FROM_SCRATCH)
def test_full_size_networks_have_torchvisions_parameter_count(name):
    with torch.device("meta"):
        ours = arch.from_scratch(name)
        kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        theirs = torchvision.models.get_model(name, **kwargs)
    assert count_parameters(ours) == count_parameters(theirs)


@pytest.mark.parametrize("name", ["alexnet", "resnet18", "mobilenet_v2", "convnext_tiny", "vit_b_32"])
def test_full_size_networks_give_1000_logits_on_the_meta_device(name):
    with torch.device("meta"):
        logits = arch.from_scratch(name).eval()(torch.zeros(2, 3, 224, 224))
    assert logits.shape == (2, 1000) and logits.device.type == "meta"


@pytest.mark.parametrize("kind", arch.SMALL_NETS)
def test_small_networks_classify_digits(kind):
    model = arch.small_net(kind, width=8)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert arch.small_net(kind, width=8, num_classes=4, in_channels=3)(torch.rand(2, 3, 28, 28)).shape == (2, 4)


def test_deep_net_plain_and_residual_have_the_same_layers():
    plain, residual = arch.deep_net(6, 8, skip=False), arch.deep_net(6, 8, skip=True)
    assert residual(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    n_conv = lambda m: sum(isinstance(x, nn.Conv2d) and x.kernel_size == (3, 3) for x in m.modules())  # noqa: E731
    assert n_conv(plain) == n_conv(residual) == 13


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        arch.small_net("lenet")
    with pytest.raises(ValueError, match="width"):
        arch.small_net("resnet", width=0)
    with pytest.raises(ValueError, match="no from-scratch"):
        arch.from_scratch("swin_t")
    with pytest.raises(ValueError, match="unknown ResNet"):
        arch.resnet("resnet20")
    with pytest.raises(ValueError, match="divisible"):
        arch.EncoderBlock(10, 3, 8)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        arch.ViT(30, 4, 8, 1, 2, 8)
    with pytest.raises(ValueError, match=r"expected \(N, C, 28, 28\)"):
        arch.small_net("vit")(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="num_convs"):
        arch.vgg_block(3, 8, 0)
    with pytest.raises(ValueError, match="entries"):
        arch.vgg((2, 2))
    with pytest.raises(ValueError, match="positive"):
        arch.efficientnet(width=0)


def test_make_divisible_rounds_to_eight_within_ten_percent():
    assert [arch.make_divisible(v) for v in (32, 35.2, 38.4, 12, 3)] == [32, 32, 40, 16, 8]


def test_count_flops_counts_a_multiply_add_twice():
    layer = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert measure.count_flops(layer, (1, 3, 10, 10)) == 2 * 8 * 3 * 9 * 100
    assert measure.count_flops(nn.Linear(5, 4), (2, 5)) == 2 * 2 * 5 * 4
    with torch.device("meta"):
        assert measure.count_flops(nn.Linear(5, 4), (2, 5)) == 80  # on the meta device too
    with pytest.raises(TypeError):
        measure.count_flops("resnet18")
    with pytest.raises(ValueError, match="input_shape"):
        measure.count_flops(layer, (1, 3, 0, 10))


def test_cpu_latency_is_a_positive_time():
    seconds = measure.cpu_latency(nn.Conv2d(1, 2, 3), (1, 1, 8, 8), repeats=2)
    assert 0 < seconds < 1
    with pytest.raises(ValueError, match="repeats"):
        measure.cpu_latency(nn.Conv2d(1, 2, 3), (1, 1, 8, 8), repeats=0)
    with pytest.raises(TypeError):
        measure.cpu_latency(None)


def test_receptive_field():
    assert measure.receptive_field([(3, 1)] * 3) == 7 == measure.receptive_field([(7, 1)])
    assert measure.receptive_field([(3, 1), (2, 2), (3, 1)]) == 8
    assert measure.receptive_field([]) == 1
    with pytest.raises(ValueError, match="kernel_size, stride"):
        measure.receptive_field([(3, 0)])


def test_meta_model_builds_any_torchvision_model_without_memory():
    model = measure.meta_model("regnet_x_400mf")  # its builder computes widths with tensors
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {b.device.type for b in model.buffers()} == {"meta"}
    assert nn.Module.register_parameter.__name__ == "register_parameter"  # the patch is undone


def test_model_zoo_reads_accuracy_from_the_weights_metadata():
    zoo = measure.model_zoo(["resnet18", "vit_h_14"])
    resnet18 = zoo.set_index("model").loc["resnet18"]
    assert resnet18.params == resnet18.weights_params == 11689512
    assert resnet18.top1 == torchvision.models.ResNet18_Weights.DEFAULT.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert resnet18.gflops == pytest.approx(2 * resnet18.weights_gflops, rel=0.01)  # torchvision counts MACs
    vit_h = zoo.set_index("model").loc["vit_h_14"]
    assert vit_h.resolution == 518 and vit_h.gflops == pytest.approx(2 * vit_h.weights_gflops, rel=0.01)
    assert "resnet50" in measure.classification_models() and len(measure.classification_models()) > 50
