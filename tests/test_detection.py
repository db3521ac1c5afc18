import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models.detection._utils import BoxCoder  # noqa: E402

import utils  # noqa: E402
from utils import detection as D  # noqa: E402


def random_boxes(n: int, seed: int = 0, size: float = 96.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    corner = torch.rand(n, 2, generator=g) * size * 0.8
    wh = torch.rand(n, 2, generator=g) * size * 0.4 + 1.0
    return torch.cat([corner, corner + wh], dim=1)


# ----------------------------------------------------------------------------------------- boxes


def test_box_iou_equals_torchvision_and_has_shape_n_by_m():
    a, b = random_boxes(50, 0), random_boxes(30, 1)
    ours = D.box_iou(a, b)
    assert ours.shape == (50, 30)
    assert torch.allclose(ours, torchvision.ops.box_iou(a, b), atol=1e-6)
    assert torch.allclose(D.box_iou(a, a).diagonal(), torch.ones(50))


def test_box_iou_of_empty_sets_and_disjoint_boxes():
    assert D.box_iou(torch.zeros(0, 4), random_boxes(3)).shape == (0, 3)
    far = torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 30, 30]])
    assert D.box_iou(far[:1], far[1:]).item() == 0.0
    half = torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[5.0, 0, 15, 10]])
    assert D.box_iou(*half).item() == pytest.approx(1 / 3)


@pytest.mark.parametrize("boxes,error,message", [
    (torch.tensor([[10.0, 0, 5, 10]]), ValueError, "x2 >= x1"),  # x2 < x1
    (torch.tensor([[0.0, 10, 5, 5]]), ValueError, "y2 >= y1"),
    (torch.zeros(3, 5), ValueError, r"shape \(N, 4\)"),
    (torch.zeros(4), ValueError, r"shape \(N, 4\)"),
    (torch.zeros(2, 4, dtype=torch.int64), TypeError, "float"),
    ([[0.0, 0, 1, 1]], TypeError, "torch.Tensor"),
    (torch.tensor([[0.0, 0, float("nan"), 1]]), ValueError, "NaN"),
])
def test_bad_boxes_are_refused_with_a_message(boxes, error, message):
    with pytest.raises(error, match=message):
        D.box_iou(boxes, random_boxes(2))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_equals_torchvision(threshold):
    boxes = random_boxes(200, 3)
    scores = torch.rand(200, generator=torch.Generator().manual_seed(4))
    assert torch.equal(D.nms(boxes, scores, threshold), torchvision.ops.nms(boxes, scores, threshold))


def test_batched_nms_equals_torchvision_and_keeps_other_classes():
    boxes = random_boxes(150, 5)
    g = torch.Generator().manual_seed(6)
    scores, labels = torch.rand(150, generator=g), torch.randint(0, 4, (150,), generator=g)
    ours = D.batched_nms(boxes, scores, labels, 0.5)
    assert torch.equal(ours, torchvision.ops.batched_nms(boxes, scores, labels, 0.5))
    same = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]])
    assert len(D.batched_nms(same, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5)) == 2
    assert len(D.nms(same, torch.tensor([0.9, 0.8]), 0.5)) == 1


def test_nms_of_nothing_and_bad_scores():
    assert D.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    assert D.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="one value per box"):
        D.nms(random_boxes(3), torch.rand(4), 0.5)
    with pytest.raises(ValueError, match="iou_threshold"):
        D.nms(random_boxes(3), torch.rand(3), 1.5)


# -------------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_encode_decode_round_trip_and_equal_torchvision_box_coder(weights):
    boxes, anchors = random_boxes(64, 7), random_boxes(64, 8)
    deltas = D.encode_boxes(boxes, anchors, weights)
    assert deltas.shape == (64, 4)
    assert torch.allclose(D.decode_boxes(deltas, anchors, weights), boxes, atol=1e-4)
    coder = BoxCoder(weights)
    assert torch.allclose(deltas, coder.encode_single(boxes, anchors), atol=1e-5)
    assert torch.allclose(D.decode_boxes(deltas, anchors, weights), coder.decode_single(deltas, anchors), atol=1e-4)


def test_encoding_an_anchor_on_itself_gives_zeros_and_bad_shapes_are_refused():
    anchors = random_boxes(5)
    assert torch.allclose(D.encode_boxes(anchors, anchors), torch.zeros(5, 4), atol=1e-6)
    with pytest.raises(ValueError, match="one anchor per box"):
        D.encode_boxes(random_boxes(5), random_boxes(4))
    with pytest.raises(ValueError, match="anchors' shape"):
        D.decode_boxes(torch.zeros(3, 4), random_boxes(4))
    with pytest.raises(ValueError, match="positive width"):
        D.encode_boxes(torch.tensor([[1.0, 1, 1, 5]]), torch.tensor([[0.0, 0, 4, 4]]))


# ------------------------------------------------------------------------------------- detector

BOXES = [torch.tensor([[10.0, 12, 30, 40], [50.0, 50, 86, 70]]), torch.tensor([[40.0, 8, 52, 30]])]
LABELS = [torch.tensor([3, 7]), torch.tensor([1])]


def test_pack_targets_shapes_padding_and_bad_input():
    packed = D.pack_targets(BOXES, LABELS, max_objects=5)
    assert packed.shape == (2, 5, 5)
    assert (packed[0, 2:] == -1).all() and packed[1, 0, 4] == 1
    with pytest.raises(ValueError, match="max_objects"):
        D.pack_targets(BOXES, LABELS, max_objects=1)
    with pytest.raises(ValueError, match="2 box tensors but 1 label"):
        D.pack_targets(BOXES, LABELS[:1])
    with pytest.raises(ValueError, match="x2 >= x1"):
        D.pack_targets([torch.tensor([[30.0, 12, 10, 40]])], [torch.tensor([0])])


def test_centernet_targets_have_one_peak_per_object_at_its_centre():
    targets = D.centernet_targets(D.pack_targets(BOXES, LABELS), num_classes=10, image_size=96, stride=4)
    assert targets["heatmap"].shape == (2, 10, 24, 24)
    assert targets["offset"].shape == targets["size"].shape == (2, 2, 24, 24)
    assert int(targets["heatmap"].eq(1).sum()) == 3 == int(targets["mask"].sum())
    assert targets["heatmap"][0, 3, 26 // 4, 20 // 4] == 1.0  # centre (20, 26) -> cell (x 5, y 6)
    assert targets["heatmap"][:, [0, 2, 4, 5, 6, 8, 9]].max() == 0
    at_centres = targets["offset"].permute(0, 2, 3, 1)[targets["mask"].bool()]
    assert at_centres.shape == (3, 2) and 0 <= at_centres.min() and at_centres.max() < 1
    assert targets["weight"].max() == 1 and (targets["weight"][targets["mask"].bool()] == 1).all()
    assert torch.equal(targets["boxes"][0, :, 6, 5], BOXES[0][0])  # the centre cell regresses its own box


def test_detector_loss_is_lower_for_the_right_answer():
    packed = D.pack_targets(BOXES, LABELS)
    targets = D.centernet_targets(packed)
    right = torch.cat([torch.logit(targets["heatmap"].clamp(1e-4, 1 - 1e-4)), targets["offset"], targets["size"]], dim=1)
    wrong = right.clone()
    wrong[:, 10:] += 0.5
    for dense in (True, False):
        assert D.centernet_loss(right, packed, dense=dense) < D.centernet_loss(wrong, packed, dense=dense)


def test_decoding_the_targets_gives_back_the_boxes():
    """Round trip: encode ground truth as CenterNet maps, decode the maps, recover every box and label."""
    packed = D.pack_targets(BOXES, LABELS)
    targets = D.centernet_targets(packed, num_classes=10)
    logits = torch.logit(targets["heatmap"].clamp(1e-6, 1 - 1e-6))
    outputs = torch.cat([logits, targets["offset"], targets["size"]], dim=1)
    detections = D.decode_centernet(outputs, stride=4, score_threshold=0.5)
    for detection, boxes, labels in zip(detections, BOXES, LABELS):
        order = torch.argsort(detection["labels"])
        assert torch.equal(detection["labels"][order], labels.sort().values)
        assert torch.allclose(detection["boxes"][order], boxes[torch.argsort(labels)], atol=1e-4)


def test_detector_output_shape_loss_and_decoding_of_random_outputs():
    torch.manual_seed(0)
    model = utils.models.TinyCenterNet(num_classes=10, width=8)
    images = torch.rand(2, 1, 96, 96)
    outputs = model(images)
    assert outputs.shape == (2, 14, 24, 24)
    loss = D.centernet_loss(outputs, D.pack_targets(BOXES, LABELS))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    detections = D.detect(model, images, max_detections=7, score_threshold=0.0, nms_iou=None)
    assert len(detections) == 2 and detections[0]["boxes"].shape == (7, 4) and detections[0]["scores"].shape == (7,)
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.rand(1, 1, 90, 90))
    with pytest.raises(ValueError, match="num_classes \\+ 4"):
        D.decode_centernet(torch.rand(2, 14, 24))


def test_confident_of_nothing_decodes_to_empty_predictions():
    outputs = torch.full((3, 14, 24, 24), -20.0)
    detections = D.decode_centernet(outputs, score_threshold=0.05)
    assert len(detections) == 3
    assert all(d["boxes"].shape == (0, 4) and d["scores"].shape == (0,) and d["labels"].shape == (0,) for d in detections)


# -------------------------------------------------------------------------------------- metrics


def noisy_predictions(targets, seed=0):
    """Ground truth jittered, with some labels changed, some boxes missed and random false positives."""
    g = torch.Generator().manual_seed(seed)
    predictions = []
    for t in targets:
        n = len(t["boxes"])
        boxes = t["boxes"] + torch.randn(n, 4, generator=g) * 2.0
        boxes = torch.stack([torch.minimum(boxes[:, 0], boxes[:, 2]), torch.minimum(boxes[:, 1], boxes[:, 3]),
                             torch.maximum(boxes[:, 0], boxes[:, 2]), torch.maximum(boxes[:, 1], boxes[:, 3])], dim=1)
        labels = torch.where(torch.rand(n, generator=g) < 0.15, torch.randint(0, 3, (n,), generator=g), t["labels"])
        keep = torch.rand(n, generator=g) > 0.1
        extra = random_boxes(2, int(torch.randint(0, 10_000, (1,), generator=g)))
        predictions.append({
            "boxes": torch.cat([boxes[keep], extra]),
            "scores": torch.rand(int(keep.sum()) + 2, generator=g),
            "labels": torch.cat([labels[keep], torch.randint(0, 3, (2,), generator=g)]),
        })
    return predictions


def random_targets(n_images=25, seed=1):
    g = torch.Generator().manual_seed(seed)
    targets = []
    for i in range(n_images):
        k = int(torch.randint(1, 5, (1,), generator=g))
        targets.append({"boxes": random_boxes(k, seed * 1000 + i), "labels": torch.randint(0, 3, (k,), generator=g)})
    return targets


def test_mean_average_precision_by_hand_equals_torchmetrics():
    targets = random_targets()
    predictions = noisy_predictions(targets)
    ours = D.mean_average_precision(predictions, targets)
    theirs = D.coco_map(predictions, targets, class_metrics=True)
    assert 0.05 < ours["map"] < 0.95  # a non-trivial case
    assert ours["map"] == pytest.approx(float(theirs["map"]), abs=1e-6)
    assert ours["map_50"] == pytest.approx(float(theirs["map_50"]), abs=1e-6)
    for c, ap in zip(theirs["classes"].tolist(), theirs["map_per_class"].tolist()):
        assert ours["per_class"][c] == pytest.approx(ap, abs=1e-6)


def test_perfect_and_empty_predictions():
    targets = random_targets(5)
    perfect = [{"boxes": t["boxes"], "scores": torch.ones(len(t["boxes"])), "labels": t["labels"]} for t in targets]
    assert D.mean_average_precision(perfect, targets)["map"] == pytest.approx(1.0)
    empty = [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)} for _ in targets]
    assert D.mean_average_precision(empty, targets)["map"] == 0.0
    assert float(D.coco_map(empty, targets)["map"]) <= 0.0
    assert D.mabo([torch.zeros(0, 4)] * 5, [t["boxes"] for t in targets], [t["labels"] for t in targets])[0] == 0.0
    with pytest.raises(ValueError, match="one per image"):
        D.mean_average_precision(perfect[:2], targets)


def test_average_precision_of_a_known_curve():
    # detections: TP, FP, TP with 2 ground-truth boxes -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    precision, recall = torch.tensor([1.0, 0.5, 2 / 3]), torch.tensor([0.5, 0.5, 1.0])
    assert D.average_precision(precision, recall, "all") == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert D.average_precision(precision, recall, "coco") == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)
    assert D.average_precision(torch.zeros(0), torch.zeros(0)) == 0.0
    with pytest.raises(ValueError, match="method"):
        D.average_precision(precision, recall, "voc07")


def test_match_detections_is_greedy_by_score():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 0, 10, 10]])
    hits = D.match_detections(boxes, torch.tensor([0.2, 0.9]), gt, 0.5)
    assert hits.tolist() == [True, False]  # the higher score (box 1) takes the object, box 0 is a duplicate


def test_mabo_by_hand():
    gt = [torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 30, 30]]), torch.tensor([[0.0, 0, 10, 10]])]
    labels = [torch.tensor([0, 1]), torch.tensor([0])]
    proposals = [torch.tensor([[0.0, 0, 10, 5], [20.0, 20, 30, 30]]), torch.tensor([[0.0, 0, 10, 10]])]
    value, per_class = D.mabo(proposals, gt, labels)
    assert per_class == {0: pytest.approx(0.75), 1: pytest.approx(1.0)}
    assert value == pytest.approx(0.875)
    with pytest.raises(ValueError, match="one entry per image"):
        D.mabo(proposals[:1], gt, labels)


# -------------------------------------------------------------------------------------- drawing


def test_show_detections_draws_one_rectangle_per_box_and_refuses_mismatches():
    images = torch.rand(2, 1, 96, 96)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(BOXES, LABELS)]
    predictions = [{**t, "scores": torch.full((len(t["boxes"]),), 0.9)} for t in targets]
    fig = D.show_detections(images, predictions, targets, titles=["a", "b"])
    assert sum(len(ax.patches) for ax in fig.axes) == 2 * 3
    plt.close(fig)
    with pytest.raises(ValueError, match="2 images but 1 predictions"):
        D.show_detections(images, predictions[:1])
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="labels"):
        D.draw_boxes(ax, BOXES[0], labels=torch.tensor([1]))
    plt.close(fig)


def test_captions_stay_inside_the_image_and_never_cover_each_other():
    # a duplicate box one pixel from another (both captions want the same spot), and a box at the
    # image's top-left corner, whose caption above the box would be clipped away
    boxes = torch.tensor([[12.0, 12, 40, 52], [11, 10, 41, 48], [0, 0, 20, 20], [70, 0, 96, 30]])
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    ax.imshow(torch.zeros(96, 96).numpy(), cmap="gray")
    D.draw_boxes(ax, boxes, torch.tensor([0, 0, 0, 1]), torch.tensor([0.95, 0.60, 0.85, 0.5]))
    renderer = fig.canvas.get_renderer()
    captions = [t for t in ax.texts if t.get_gid() == "box caption"]
    assert sorted(t.get_text() for t in captions) == ["0 0.60", "0 0.85", "0 0.95", "1 0.50"]
    extents = [t.get_window_extent(renderer) for t in captions]
    frame = ax.get_window_extent(renderer)
    for extent in extents:
        assert frame.x0 <= extent.x0 and extent.x1 <= frame.x1 and frame.y0 <= extent.y0 and extent.y1 <= frame.y1
    assert not any(a.overlaps(b) for k, a in enumerate(extents) for b in extents[k + 1 :])
    plt.close(fig)


def test_nms_refuses_nan_scores_instead_of_keeping_them_first():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 0, 11, 10]])
    # argsort puts NaN first, so the NaN-scored box would be kept and suppress the 0.9 one
    for suppress in (D.nms, lambda b, s, t: D.batched_nms(b, s, torch.tensor([0, 0]), t)):
        with pytest.raises(ValueError, match="NaN"):
            suppress(boxes, torch.tensor([float("nan"), 0.9]), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        D.match_detections(boxes, torch.tensor([0.9, float("inf")]), boxes[:1])
