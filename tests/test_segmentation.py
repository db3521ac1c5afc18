"""utils.segmentation: metrics equal torchmetrics, losses, models, instances, plots and bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex  # noqa: E402
from torchmetrics.segmentation import MeanIoU  # noqa: E402

import utils  # noqa: E402
from utils import segmentation as seg  # noqa: E402

# A worked example small enough to check by hand: 2 x 3 pixels, 3 classes.
TRUE = torch.tensor([[0, 0, 1], [1, 2, 2]])
PRED = torch.tensor([[0, 1, 1], [1, 2, 0]])


@pytest.fixture(scope="module")
def scenes():
    return utils.make_scenes(6, "test", seed=3)


@pytest.fixture(scope="module")
def noisy_predictions(scenes):
    """Ground truth with a fifth of the pixels replaced by random classes: a stand-in for a model."""
    g = torch.Generator().manual_seed(0)
    truth = scenes.semantic_masks
    noise = torch.randint(0, 11, truth.shape, generator=g)
    return torch.where(torch.rand(truth.shape, generator=g) < 0.2, noise, truth)


def test_confusion_matrix_and_metrics_by_hand():
    m = seg.segmentation_confusion_matrix(PRED, TRUE, 3)
    assert m.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert seg.pixel_accuracy(m) == pytest.approx(4 / 6)
    # IoU: class 0: 1 / (2 + 2 - 1), class 1: 2 / (3 + 2 - 2), class 2: 1 / (1 + 2 - 1)
    assert seg.iou_per_class(m).tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert seg.mean_iou(m) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert seg.dice_per_class(m).tolist() == pytest.approx([2 / 4, 4 / 5, 2 / 3])


def test_absent_class_is_left_out_of_the_mean():
    m = seg.segmentation_confusion_matrix(PRED, TRUE, 5)
    assert torch.isnan(seg.iou_per_class(m)[3:]).all()
    assert seg.mean_iou(m) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert seg.mean_iou(m) == pytest.approx(float(MulticlassJaccardIndex(5, average="macro")(PRED, TRUE)))


def test_dataset_level_metrics_equal_torchmetrics(scenes, noisy_predictions):
    truth = scenes.semantic_masks
    meter = seg.SegmentationMeter(11)
    jaccard = MulticlassJaccardIndex(11, average="macro")
    for start in (0, 2, 4):  # accumulate over batches
        meter.update(noisy_predictions[start : start + 2], truth[start : start + 2])
        jaccard.update(noisy_predictions[start : start + 2], truth[start : start + 2])
    summary = meter.summary()
    assert summary["mean_iou"] == pytest.approx(float(jaccard.compute()), abs=1e-6)
    assert summary["pixel_accuracy"] == pytest.approx(float(MulticlassAccuracy(11, average="micro")(noisy_predictions, truth)), abs=1e-6)
    assert summary["mean_dice"] == pytest.approx(float(MulticlassF1Score(11, average="macro")(noisy_predictions, truth)), abs=1e-6)
    per_class = MulticlassJaccardIndex(11, average="none")(noisy_predictions, truth)
    assert torch.allclose(seg.iou_per_class(meter.matrix).float(), per_class, atol=1e-6)
    assert seg.segmentation_scores(noisy_predictions, truth) == pytest.approx(summary)


def test_per_image_mean_iou_equals_torchmetrics_mean_iou(scenes, noisy_predictions):
    expected = MeanIoU(num_classes=11, input_format="index")(noisy_predictions, scenes.semantic_masks)
    assert seg.per_image_mean_iou(noisy_predictions, scenes.semantic_masks) == pytest.approx(float(expected), abs=1e-6)


def test_perfect_prediction_scores_one(scenes):
    scores = seg.segmentation_scores(scenes.semantic_masks, scenes.semantic_masks)
    assert scores == pytest.approx({"pixel_accuracy": 1.0, "mean_iou": 1.0, "mean_dice": 1.0})


@pytest.mark.parametrize("call,error,message", [
    (lambda: seg.segmentation_confusion_matrix(PRED, TRUE[:1], 3), ValueError, "same shape"),
    (lambda: seg.segmentation_confusion_matrix(PRED, TRUE + 3, 3), ValueError, r"\[0, 2\]"),
    (lambda: seg.segmentation_confusion_matrix(PRED - 1, TRUE, 3), ValueError, "class ids"),
    (lambda: seg.segmentation_confusion_matrix(PRED.float(), TRUE, 3), TypeError, "integer"),
    (lambda: seg.segmentation_confusion_matrix(PRED.tolist(), TRUE, 3), TypeError, "torch.Tensor"),
    (lambda: seg.segmentation_confusion_matrix(PRED, TRUE, 1), ValueError, "num_classes"),
    (lambda: seg.mean_iou(torch.zeros(2, 3)), ValueError, "square"),
    (lambda: seg.SegmentationMeter(3).summary(), ValueError, "no pixels"),
    (lambda: seg.dice_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 5, 5, dtype=torch.long)), ValueError, "matching"),
    (lambda: seg.dice_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4)), TypeError, "integer"),
    (lambda: utils.models.SmallUNet()(torch.zeros(1, 1, 90, 90)), ValueError, "divisible by 8"),
    (lambda: utils.models.SmallFCN(channels=(16,)), ValueError, "at least two"),
    (lambda: seg.transposed_conv_output_size(4, 3, stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: seg.connected_instances(torch.zeros(4, 4)), ValueError, "integer mask"),
    (lambda: seg.colorize_mask(torch.full((2, 2), 11)), ValueError, r"\[0, 10\]"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("size,kernel,stride,padding,output_padding,dilation", [
    (12, 2, 2, 0, 0, 1), (7, 3, 2, 1, 1, 1), (5, 4, 2, 1, 0, 1), (9, 3, 1, 0, 0, 2), (3, 5, 3, 2, 2, 1),
])
def test_transposed_conv_output_size_matches_pytorch(size, kernel, stride, padding, output_padding, dilation):
    layer = torch.nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation)
    expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
    assert seg.transposed_conv_output_size(size, kernel, stride, padding, output_padding, dilation) == expected


def test_losses_low_for_right_answers_and_differentiable():
    targets = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    right = torch.nn.functional.one_hot(targets, 4).permute(0, 3, 1, 2).float() * 20
    wrong = right.roll(1, dims=1)
    assert seg.dice_loss(right, targets) < 0.01 < 0.9 < seg.dice_loss(wrong, targets)
    loss_fn = seg.CrossEntropyDiceLoss(dice_weight=0.5)
    logits = torch.zeros(2, 4, 8, 8, requires_grad=True)
    loss = loss_fn(logits, targets)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert loss_fn(right, targets) < loss_fn(wrong, targets)


@pytest.mark.parametrize("model_class", [utils.models.SmallFCN, utils.models.SmallUNet])
def test_models_keep_the_input_size_and_are_deterministic(model_class):
    torch.manual_seed(0)
    model = model_class(channels=(4, 8, 16)).eval()
    x = torch.rand(2, 1, 32, 32)
    out = model(x)
    assert out.shape == (2, 11, 32, 32)
    torch.manual_seed(0)
    again = model_class(channels=(4, 8, 16)).eval()
    assert torch.equal(again(x), out)
    masks, confidence = seg.predict_masks(model, x, batch_size=1, return_probabilities=True)
    assert masks.shape == (2, 32, 32) and masks.dtype == torch.int64
    assert torch.equal(masks, out.argmax(1)) and (confidence > 0).all() and (confidence <= 1).all()


def test_unet_decoder_concatenates_skips_and_fcn_has_no_decoder():
    unet, fcn = utils.models.SmallUNet(channels=(4, 8, 16)), utils.models.SmallFCN(channels=(4, 8, 16))
    assert [block[0].in_channels for block in unet.decoder] == [2 * 8, 2 * 4]
    assert not hasattr(fcn, "decoder")
    plain = utils.models.SmallUNet(channels=(4, 8, 16), coarse_scores=False)
    assert plain.coarse_head is None and plain(torch.zeros(1, 1, 8, 8)).shape == (1, 11, 8, 8)
    # The FCN's output is its 1/4-size score map upsampled: smooth, it cannot draw a 1-pixel stroke.
    out = fcn.eval()(torch.rand(1, 1, 16, 16))
    coarse = fcn.coarse_head(fcn.encoder(torch.rand(1, 1, 16, 16))[-1])
    assert coarse.shape[-2:] == (4, 4) and out.shape[-2:] == (16, 16)


def test_connected_components_split_touching_digits_only_by_class():
    mask = torch.zeros(6, 10, dtype=torch.long)
    mask[1:4, 1:3] = 3  # digit 2
    mask[1:4, 3:5] = 5  # digit 4, touching the first
    mask[1:4, 7:9] = 3  # another digit 2, apart
    per_class, classes = seg.connected_instances(mask)
    assert int(per_class.max()) == 3 and sorted(classes.tolist()) == [3, 3, 5]
    merged, merged_classes = seg.connected_instances(mask, per_class=False)
    assert int(merged.max()) == 2  # the touching pair became one instance
    assert ((per_class > 0) == (mask > 0)).all() and ((merged > 0) == (mask > 0)).all()
    detections = seg.instances_to_detections(per_class, classes)
    assert detections["masks"].shape == (3, 6, 10) and detections["labels"].tolist() == (classes - 1).tolist()


def test_ground_truth_components_match_instances_well(scenes):
    predicted = [seg.connected_instances(m)[0] for m in scenes.semantic_masks]
    scores = seg.matched_instance_iou(predicted, list(scenes.instance_masks))
    assert scores["mean_matched_iou"] > 0.8 and scores["recall_at_50"] > 0.8
    perfect = seg.matched_instance_iou(list(scenes.instance_masks), list(scenes.instance_masks))
    assert perfect == pytest.approx({"mean_matched_iou": 1.0, "precision_at_50": 1.0, "recall_at_50": 1.0, "f1_at_50": 1.0})


def test_plots_return_figures(scenes):
    masks = scenes.semantic_masks[:2]
    overlay = seg.overlay_mask(scenes.images[0], masks[0])
    assert overlay.shape == (96, 96, 3) and 0 <= overlay.min() and overlay.max() <= 1
    assert (seg.colorize_mask(masks[0])[masks[0] == 0] == 0).all()
    figures = [
        seg.show_segmentations(scenes.images[:2], {"ground truth": masks, "differ": masks > 0}),
        seg.show_instances(scenes.images[0], {"true": scenes.instance_masks[0]}),
        seg.plot_iou_per_class({"a": torch.rand(11)}),
    ]
    assert all(isinstance(f, plt.Figure) for f in figures)
    plt.close("all")


def test_intersections_show_merges_and_splits_and_ious_follow_from_them():
    true = torch.zeros(6, 8, dtype=torch.int64)
    true[0:2, 0:2], true[0:2, 2:4], true[4:6, 0:8] = 1, 2, 3  # two touching squares, one long bar
    predicted = torch.zeros_like(true)
    predicted[0:2, 0:4] = 1  # the two squares merged
    predicted[4:6, 0:3], predicted[4:6, 5:8] = 2, 3  # the bar split in two, its middle missed
    overlap = seg.instance_intersections(predicted, true)
    assert overlap.tolist() == [[4, 4, 0], [0, 0, 6], [0, 0, 6]]
    assert ((overlap > 0).sum(1) >= 2).tolist() == [True, False, False]  # predicted 1 merges
    assert ((overlap > 0).sum(0) >= 2).tolist() == [False, False, True]  # true 3 is split
    assert torch.allclose(seg.instance_ious(predicted, true)[0], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.allclose(seg.instance_ious(predicted, true)[:, 2], torch.tensor([0.0, 6 / 16, 6 / 16]))
    assert seg.instance_intersections(torch.zeros_like(true), true).shape == (0, 3)
    with pytest.raises(ValueError, match="integer ids"):
        seg.instance_intersections(predicted.float(), true)
    with pytest.raises(ValueError, match="one shape"):
        seg.instance_intersections(predicted[:3], true)


def test_match_instance_ids_gives_one_object_one_id(scenes):
    true = next(mask for mask in scenes.instance_masks if mask.max() >= 3)
    shuffled = torch.zeros_like(true)
    order = torch.arange(int(true.max()), 0, -1)  # ids in reverse
    for new, old in enumerate(order.tolist(), start=1):
        shuffled[true == old] = new
    assert not torch.equal(shuffled, true) and torch.equal(seg.match_instance_ids(shuffled, true), true)
    # a split: the larger piece keeps the digit's id, the other piece gets the next free id
    split = true.clone()
    ys, xs = torch.nonzero(true == 1, as_tuple=True)
    piece = ys < ys.float().median()
    split[ys[piece], xs[piece]] = int(true.max()) + 5
    relabelled = seg.match_instance_ids(split, true)
    assert set(relabelled.unique().tolist()) == set(range(int(true.max()) + 2))
    assert (relabelled[true == 0] == 0).all()


def test_instance_colours_are_distinct_for_the_first_ten_ids():
    colours = seg.colorize_instances(torch.arange(11).view(1, 11))[0]
    assert (colours[0] == 0).all()
    assert len({tuple(c) for c in colours[1:].round(3).tolist()}) == 10


def test_row_labels_name_the_rows(scenes):
    masks = scenes.semantic_masks[:2]
    fig = seg.show_segmentations(scenes.images[:2], {"ground truth": masks}, row_labels=["scene 7", "scene 9"])
    assert [fig.axes[k].get_ylabel() for k in (0, 2)] == ["scene 7", "scene 9"]
    plt.close(fig)
    with pytest.raises(ValueError, match="row labels"):
        seg.show_segmentations(scenes.images[:2], {"ground truth": masks}, row_labels=["one"])
