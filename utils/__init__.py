"""Shared helpers for the INT3414 CNN course notebooks, organised by job: one module each.

Where does X live?

==========================  ========================================================================================
module                      what it holds
==========================  ========================================================================================
``utils.env``               fast mode, seeds, the device (``get_device``, ``model_device``), the environment line
``utils.data``              real MNIST from ``data/``, downloadable data sets, scikit-image photos, image folders
``utils.loaders``           ``TensorLoader``: a fast in-memory batch iterator over tensors
``utils.augment``           batch-level augmentation for that iterator (translations, affine)
``utils.models``            every network of the course, one file per task (see its docstring)
``utils.training``          the one training engine: ``fit``, checkpoints and resume, the LR range test, schedules
``utils.metrics``           the one predictor (``predict``), accuracy, confusion matrix, reports, calibration
``utils.plots``             image grids, curves, confusion matrices, filters, feature maps
``utils.results``           each notebook's key figures and time goals
``utils.notebook``          the first and last cell of every notebook, the exercise checker
``utils.course``            the repository's GitHub slug and Colab links
``utils.scenes``            deterministic scenes of real MNIST digits (boxes, labels, masks)
``utils.experiments``       week 3: hyperparameter searches, data splits, summaries over seeds, throughput
``utils.detection``         week 4: boxes, IoU, NMS, box encoding, CenterNet targets/loss/decoding, mAP, drawing
``utils.segmentation``      week 5: segmentation metrics and losses, crops, overlays, connected-component instances
``utils.architectures``     weeks 6-7: FLOPs, CPU latency, receptive fields, torchvision's model zoo on the meta device
``utils.explain``           weeks 8-9: saliency, Grad-CAM with hooks, occlusion sensitivity
``utils.generative``        weeks 8-9: VAE/GAN losses and training, Fréchet distance in a classifier's features
``utils.attacks``           weeks 8-9: FGSM, PGD, robust accuracy, adversarial-training batches
``utils.distributed``       weeks 8-9: DistributedDataParallel training launched with torchrun
``utils.selfsupervised``    week 9: SimCLR views, the NT-Xent loss, linear probes and k-NN on embeddings
``utils.metric_learning``   week 9: triplet and ArcFace losses, Recall@k, verification pairs, ROC, threshold
``utils.diffusion``         week 9: noise schedules, forward noising, the DDPM loss, DDPM and DDIM samplers
``utils.style``             week 9: Gram matrices, texture synthesis with random filters, style transfer
``utils.project``           week 10: image-folder checks, stratified split, export and reload, predict an image
``utils.exercises``         the coding exercises' checkers, one module per week (``utils.exercises.week02``)
==========================  ========================================================================================

Weeks 1-3 use the names below flat (``utils.fit``, ``utils.LeNet5``); later weeks reach their task module
by name (``utils.detection.nms``, ``utils.models.SmallUNet``). Nothing is imported until first use (a
module ``__getattr__``), so ``import utils.course`` (all that ``tools/build_docs.py`` needs) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# The flat names, by the module that holds them.
_FLAT: dict[str, tuple[str, ...]] = {
    "env": ("FAST", "environment_report", "get_device", "model_device", "pick", "seed_everything", "seed_worker"),
    "data": (
        "DATA_DIR",
        "DataFileError",
        "DatasetUnavailableError",
        "MNIST_MEAN",
        "MNIST_STD",
        "load_mnist",
        "load_online_dataset",
        "mnist_torchvision_root",
        "skimage_photo",
        "to_float_images",
        "write_image_folder",
    ),
    "loaders": ("TensorLoader",),
    "augment": ("random_affine", "random_translate"),
    "models": ("LeNet5", "MLP", "SmallCNN", "TunableCNN", "conv_output_size", "count_parameters"),
    "training": (
        "NonFiniteLossError",
        "evaluate",
        "fit",
        "load_checkpoint",
        "lr_range_test",
        "lr_schedule",
        "save_checkpoint",
        "suggest_lr",
        "train_one_epoch",
        "train_steps",
    ),
    "metrics": (
        "accuracy",
        "calibration_bins",
        "classification_report",
        "confusion_matrix",
        "expected_calibration_error",
        "most_confident_mistakes",
        "most_confused_pairs",
        "predict",
    ),
    "plots": (
        "plot_confusion_matrix",
        "plot_feature_maps",
        "plot_filters",
        "plot_history",
        "plot_reliability_diagram",
        "show_as_jpeg",
        "show_images",
    ),
    "results": ("course_results_dir", "load_results", "record", "results_dir", "results_table", "time_goal"),
    "notebook": ("check", "compare", "finish_notebook", "start_notebook"),
    "course": ("GITHUB_SLUG", "colab_url"),
    "scenes": ("NUM_SEMANTIC_CLASSES", "Scenes", "make_scenes"),
    "experiments": (
        "LogUniform",
        "few_shot_split",
        "grid_configs",
        "images_per_second",
        "kfold_indices",
        "random_configs",
        "summarize_runs",
        "train_val_split",
    ),
}
_MODULE_OF = {name: module for module, names in _FLAT.items() for name in names}
_SUBMODULES = frozenset(
    (
        "env",
        "data",
        "loaders",
        "augment",
        "models",
        "training",
        "metrics",
        "plots",
        "results",
        "notebook",
        "course",
        "scenes",
        "experiments",
        "detection",
        "segmentation",
        "architectures",
        "explain",
        "generative",
        "attacks",
        "distributed",
        "selfsupervised",
        "metric_learning",
        "diffusion",
        "style",
        "project",
        "exercises",
    )
)

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import a submodule, or the module that holds a flat name, on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"utils.{name}")
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"utils.{_MODULE_OF[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])
