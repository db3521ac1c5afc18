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
- ``utils.tuning``    week 3: tunable CNN, learning-rate range test, schedules, searches, splits, seed summaries
- ``utils.project``   week 10: image-folder checks, stratified split, export and reload, predict
- ``utils.detection`` week 4: boxes, IoU, NMS, box encoding, a CenterNet-style detector, mAP/MABO, drawing
- ``utils.segmentation`` week 5: segmentation metrics, losses, FCN/U-Net, overlays, connected-component instances
- ``utils.explain``   weeks 8-9: saliency maps, Grad-CAM with hooks, occlusion sensitivity, digits on a canvas
- ``utils.generative`` weeks 8-9: autoencoder, VAE, DCGAN and their training, Fréchet distance in a classifier's features
- ``utils.attacks``   weeks 8-9: FGSM, PGD, robust accuracy, batches for adversarial training
- ``utils.distributed`` weeks 8-9: DistributedDataParallel training launched with torchrun (gloo/NCCL)
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
    write_image_folder,
)
from utils.env import FAST, environment_report, get_device, model_device, pick, seed_everything, seed_worker
from utils.loaders import TensorLoader
from utils.metrics import (
    accuracy,
    calibration_bins,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    most_confident_mistakes,
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
    plot_reliability_diagram,
    show_images,
)
from utils.results import course_results_dir, load_results, record, results_dir, results_table, time_goal
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
from utils.explain import (GradCAM, centre_of_mass, explanation_inside_box, occlusion_sensitivity, place_on_canvas, random_positions, saliency_map, show_explanations)
from utils.generative import (VAE, Autoencoder, DCGANDiscriminator, DCGANGenerator, FeatureExtractor, classifier_report, extract_features, frechet_distance, gan_training_step, init_dcgan_weights, latent_walk, torchmetrics_frechet_distance, train_gan, train_vae, vae_loss)
from utils.attacks import (AdversarialBatches, fgsm, pgd, robust_accuracy)
from utils.distributed import (init_distributed, launch, shard_loader, train_ddp)
from utils.segmentation import (SEGMENTATION_CLASS_NAMES, CrossEntropyDiceLoss, RandomCropLoader, SegmentationMeter, SmallFCN, SmallUNet, class_colors, class_legend, colorize_instances, colorize_mask, connected_instances, dice_loss, dice_per_class, instance_ious, instances_to_detections, iou_per_class, matched_instance_iou, mean_dice, mean_iou, overlay_mask, per_image_mean_iou, pixel_accuracy, plot_iou_per_class, predict_masks, segmentation_confusion_matrix, segmentation_scores, show_instances, show_segmentations, transposed_conv_output_size)
from utils.detection import (Detections, TinyCenterNet, average_precision, batched_nms, box_area, box_iou, centernet_loss, centernet_targets, check_boxes, coco_map, decode_boxes, decode_centernet, detect, draw_boxes, encode_boxes, focal_loss, mabo, match_detections, mean_average_precision, nms, pack_targets, precision_recall, show_detections)
from utils.tuning import (LogUniform, TunableCNN, few_shot_split, grid_configs, images_per_second, kfold_indices, lr_range_test, lr_schedule, random_affine, random_configs, suggest_lr, summarize_runs, train_steps, train_val_split)
from utils.project import (IMAGE_EXTENSIONS, Normalize, export_model, folder_summary, imbalance_ratio, load_exported, load_images, load_split, predict_image, read_image, save_split, scan_image_folder, stratified_split)

__all__ = [name for name in dir() if not name.startswith("_")]
