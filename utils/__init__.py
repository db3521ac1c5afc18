"""Shared helpers for the INT3414 CNN course notebooks.

Organised by job, one module each:

- ``utils.env``       fast mode, seeds, device, environment report
- ``utils.data``      real MNIST from ``data/``, downloadable datasets, scikit-image photos
- ``utils.loaders``   a fast in-memory batch iterator over tensors
- ``utils.augment``   batch-level augmentations for that iterator
- ``utils.models``    the course's small networks and layer arithmetic
- ``utils.training``  ``fit``: the training loop, evaluation, checkpoints
- ``utils.metrics``   predictions, accuracy, confusion matrix, per-class report
- ``utils.plots``     image grids, curves, confusion matrices, filters, feature maps
- ``utils.results``   recording each notebook's key figures
- ``utils.scenes``    deterministic scenes of real MNIST digits (boxes, labels, masks)
- ``utils.notebook``  the first and last cell of every notebook, exercise checks
- ``utils.course``    the repository's GitHub slug and Colab links
"""

from utils.augment import random_translate
from utils.course import GITHUB_SLUG, colab_url
from utils.data import (
    DATA_DIR,
    MNIST_MEAN,
    MNIST_STD,
    DatasetUnavailableError,
    DataFileError,
    load_mnist,
    load_online_dataset,
    mnist_torchvision_root,
    skimage_photo,
    to_float_images,
)
from utils.env import FAST, environment_report, get_device, pick, seed_everything, seed_worker
from utils.loaders import TensorLoader
from utils.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    most_confused_pairs,
    predict,
)
from utils.models import MLP, LeNet5, SmallCNN, conv_output_size, count_parameters
from utils.notebook import check, finish_notebook, start_notebook
from utils.plots import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_history,
    show_images,
)
from utils.results import load_results, record, results_dir, results_table
from utils.scenes import NUM_SEMANTIC_CLASSES, Scenes, make_scenes
from utils.training import (
    NonFiniteLossError,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    train_one_epoch,
)

# Later weeks add their modules below this line (one import line each).

__all__ = [name for name in dir() if not name.startswith("_")]
