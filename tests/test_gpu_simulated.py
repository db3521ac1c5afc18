"""The GPU paths of `utils`, run on a CPU-only machine with a simulated CUDA device (tests/gpu_simulation.py).

Each test runs real code on real (small) data inside ``simulated_gpu()``: a tensor that a function
creates on the CPU and mixes with its GPU inputs raises "Expected all tensors to be on the same
device", as it does on Colab's GPU. Outputs that should stay on the inputs' device are checked too.
"""

import matplotlib
import pytest
import torch
from PIL import Image

import utils
from gpu_simulation import SimulatedGpuTensor, on_gpu, simulated_gpu
from utils import detection as det
from utils import segmentation as seg

matplotlib.use("Agg")


@pytest.fixture
def gpu():
    with simulated_gpu() as device:
        yield device


@pytest.fixture(scope="module")
def scenes() -> utils.Scenes:
    return utils.make_scenes(6, split="test", seed=0)


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = utils.load_mnist("test")
    return utils.to_float_images(images[:64]), labels[:64]


def one_epoch(model, batches, device, **options):
    return utils.fit(model, batches, epochs=1, device=device, progress=False, **options)


# ----------------------------------------------------------------------------- the simulation itself
def test_simulation_raises_when_a_cpu_tensor_meets_a_gpu_tensor(gpu):
    x = torch.ones(3).to(gpu)
    assert x.device == gpu and x.is_cuda and isinstance(x, SimulatedGpuTensor)
    assert on_gpu(x * 2 + torch.zeros(3, device=x.device) + torch.tensor(1.0))  # CPU scalars are allowed, as in CUDA
    with pytest.raises(RuntimeError, match="same device"):
        x + torch.ones(3)
    with pytest.raises(RuntimeError, match="indices"):
        torch.zeros(3)[x.long()]
    with pytest.raises(TypeError, match="numpy"):
        x.numpy()
    with pytest.raises(RuntimeError, match="generator"):
        torch.randn(2, generator=torch.Generator(), device=gpu)
    assert not on_gpu(x.cpu()) and torch.equal(x.cpu(), torch.ones(3))


def test_simulation_moves_models_in_place_so_optimizers_follow(gpu, digits):
    model = utils.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to(gpu)
    assert on_gpu(model) and torch.cuda.is_available() and utils.get_device().type == "cuda"
    before = model.features[0].weight.detach().cpu().clone()
    torch.nn.functional.cross_entropy(model(digits[0][:8].to(gpu)), digits[1][:8].to(gpu)).backward()
    optimizer.step()
    assert not torch.equal(model.features[0].weight.detach().cpu(), before)


# ----------------------------------------------------------------------------- one fit epoch per task
def test_fit_classification_with_mixed_precision(gpu, digits):
    model = utils.LeNet5()
    loader = utils.TensorLoader(*digits, batch_size=16, shuffle=True, transform=utils.random_translate)
    history = one_epoch(model, loader, gpu, val_loader=utils.TensorLoader(*digits, batch_size=32), amp=True)
    assert on_gpu(model) and history["val_accuracy"].notna().all()


def test_fit_centernet_detection(gpu, scenes):
    packed = det.pack_targets(scenes.boxes, scenes.labels)
    model = utils.models.TinyCenterNet(width=8)
    one_epoch(model, utils.TensorLoader(scenes.images, packed, batch_size=3), gpu, loss_fn=det.centernet_loss)
    targets = det.centernet_targets(packed.to(gpu))
    assert all(on_gpu(t) for t in targets.values())


def test_fit_unet_segmentation(gpu, scenes):
    loader = seg.RandomCropLoader(scenes.images, scenes.semantic_masks, batch_size=3, crop_size=32)
    loss = seg.CrossEntropyDiceLoss(class_weights=torch.ones(utils.NUM_SEMANTIC_CLASSES))
    one_epoch(utils.models.SmallUNet(channels=(8, 16)), loader, gpu, loss_fn=loss.to(gpu))


def test_vae_and_gan_training_steps(gpu, digits):
    loader = utils.TensorLoader(*digits, batch_size=32)
    utils.generative.train_vae(utils.models.VAE(latent_dim=4), loader, epochs=1, device=gpu, progress=False)
    generator, discriminator = utils.models.DCGANGenerator(width=8), utils.models.DCGANDiscriminator(width=8)
    _, snapshots = utils.generative.train_gan(generator, discriminator, loader, epochs=1, device=gpu, progress=False,
                                   snapshot_z=torch.randn(4, 64))
    assert on_gpu(generator) and len(snapshots)
    assert generator.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 1, 28, 28)


def test_adversarial_training(gpu, digits):
    model = utils.LeNet5().to(gpu)
    batches = utils.attacks.AdversarialBatches(utils.TensorLoader(*digits, batch_size=32), model, epsilon=0.1)
    one_epoch(model, batches, gpu)


# ----------------------------------------------------------------------------- detection
def test_decoding_nms_and_matching_keep_the_inputs_device(gpu, scenes):
    model = utils.models.TinyCenterNet(width=8).to(gpu)
    detections = det.decode_centernet(model(scenes.images.to(gpu)), score_threshold=0.0, max_detections=20)
    assert all(on_gpu(d) for d in detections)
    boxes = scenes.boxes[0].to(gpu)
    scores = torch.linspace(0.9, 0.5, len(boxes)).to(gpu)
    assert on_gpu(det.nms(boxes, scores, 0.5))
    assert on_gpu(det.batched_nms(boxes, scores, scenes.labels[0].to(gpu), 0.5))
    assert on_gpu(det.match_detections(boxes, scores, boxes, 0.5))
    assert on_gpu(det.batched_nms(boxes[:0], scores[:0], scenes.labels[0][:0].to(gpu), 0.5))


def test_map_by_hand_and_mabo_on_gpu_detections(gpu, scenes):
    targets = [{"boxes": b.to(gpu), "labels": lab.to(gpu)} for b, lab in zip(scenes.boxes, scenes.labels)]
    predictions = [{**t, "scores": torch.ones(len(t["boxes"])).to(gpu)} for t in targets]
    assert det.mean_average_precision(predictions, targets)["map"] == pytest.approx(1.0)
    assert det.mabo([t["boxes"] for t in targets], [t["boxes"] for t in targets],
                    [t["labels"] for t in targets])[0] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- segmentation
def test_segmentation_metrics_and_instances(gpu, scenes):
    truth = scenes.semantic_masks.to(gpu)
    assert seg.segmentation_scores(truth, truth)["mean_iou"] == pytest.approx(1.0)
    meter = seg.SegmentationMeter()
    meter.update(truth, truth)
    assert meter.summary()["pixel_accuracy"] == 1.0
    masks, confidence = seg.predict_masks(utils.models.SmallUNet(channels=(8, 16)).to(gpu), scenes.images.to(gpu),
                                          return_probabilities=True)
    assert masks.shape == truth.shape
    instances, classes = seg.connected_instances(truth[0])
    assert on_gpu(instances) and on_gpu(classes)
    detection = seg.instances_to_detections(instances, classes, confidence[0].to(gpu))
    assert all(on_gpu(v) for v in detection.values())
    true_instances = [m.to(gpu) for m in scenes.instance_masks]
    assert seg.matched_instance_iou(true_instances, true_instances)["mean_matched_iou"] == pytest.approx(1.0)
    assert on_gpu(seg.instance_ious(torch.zeros(4, 4, dtype=torch.long).to(gpu), true_instances[0][:4, :4]))


# ----------------------------------------------------------------------------- explanations and attacks
def test_gradcam_saliency_and_occlusion(gpu, digits):
    model = utils.LeNet5().to(gpu)
    images = digits[0][:4].to(gpu)
    with utils.explain.GradCAM(model, model.features[3]) as cam:
        assert on_gpu(cam(images))
    assert on_gpu(utils.explain.saliency_map(model, images))
    assert on_gpu(utils.explain.occlusion_sensitivity(model, images[:2], patch=8, stride=4))


def test_fgsm_pgd_and_robust_accuracy(gpu, digits):
    model = utils.LeNet5().to(gpu)
    images, labels = digits[0][:16].to(gpu), digits[1][:16].to(gpu)
    assert on_gpu(utils.attacks.fgsm(model, images, labels, 0.1))
    assert on_gpu(utils.attacks.pgd(model, images, labels, 0.1, steps=2, generator=torch.Generator().manual_seed(0)))
    table = utils.attacks.robust_accuracy(model, utils.TensorLoader(*digits, batch_size=32), [0.0, 0.1])
    assert len(table) == 2


# ----------------------------------------------------------------------------- metrics, prediction, checks
def test_classification_metrics_of_gpu_tensors(gpu, digits):
    model = utils.LeNet5().to(gpu)
    logits = utils.predict(model, digits[0])
    predictions, targets = logits.argmax(1).to(gpu), digits[1].to(gpu)
    assert 0 <= utils.accuracy(logits.to(gpu), targets) <= 1
    assert len(utils.classification_report(predictions, targets, 10)) == 10
    assert utils.confusion_matrix(predictions, targets, 10).sum() == len(targets)
    assert 0 <= utils.expected_calibration_error(logits.to(gpu), targets) <= 1
    assert len(utils.most_confident_mistakes(logits.to(gpu), targets)) <= 10


def test_predict_image_with_a_model_on_the_gpu(gpu, tmp_path):
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "red.png")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 2)).to(gpu).eval()
    probabilities = utils.project.predict_image(model, tmp_path / "red.png", ["a", "b"], 16)
    assert probabilities.sum() == pytest.approx(1.0)


def test_check_accepts_a_right_answer_on_the_gpu(gpu, capsys):
    utils.check("on the GPU", torch.tensor([1.0, 2.0]).to(gpu), torch.tensor([1, 2]))
    assert "✅" in capsys.readouterr().out
    utils.check("on the GPU", torch.tensor([1.0, 3.0]).to(gpu), torch.tensor([1, 2]))
    assert "❌" in capsys.readouterr().out


def test_plots_take_gpu_tensors(gpu, scenes):
    images = scenes.images[:2].to(gpu)
    utils.show_images(images)
    det.show_detections(images, targets=[{"boxes": b.to(gpu), "labels": lab.to(gpu)}
                                         for b, lab in zip(scenes.boxes[:2], scenes.labels[:2])])
    seg.show_segmentations(images, {"truth": scenes.semantic_masks[:2].to(gpu)})
    matplotlib.pyplot.close("all")


def test_data_helpers_take_gpu_tensors(gpu, digits, tmp_path):
    from torch.utils.data.distributed import DistributedSampler

    images, labels = digits[0][:10].to(gpu), digits[1][:10].to(gpu)
    loader = utils.distributed.shard_loader(images, labels, DistributedSampler(range(10), num_replicas=2, rank=1,
                                                                               shuffle=False), batch_size=4)
    assert all(on_gpu(batch) for batch in loader)
    pixels = (digits[0][:4, 0] * 255).to(torch.uint8).to(gpu)
    root = utils.write_image_folder(pixels, digits[1][:4].to(gpu), tmp_path / "folder")
    assert len(list(root.rglob("*.png"))) == 4


def test_predict_folder_and_predict_over_a_loader_on_the_gpu(gpu, tmp_path, monkeypatch):
    import numpy as np
    from torch import nn

    # pinning memory needs a real CUDA driver, which the simulation has not: load unpinned, predict on the "GPU"
    unpinned = utils.project.image_loader
    monkeypatch.setattr(utils.project, "image_loader", lambda *args, **kwargs: unpinned(*args, **{**kwargs, "device": None}))

    for i in range(5):
        Image.fromarray(np.full((20, 24, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2)).to(gpu).eval()
    table = utils.project.predict_folder(model, tmp_path, ["a", "b"], size=16, batch_size=2)
    assert len(table) == 5 and table["confidence"].between(0.5, 1).all()
