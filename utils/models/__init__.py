"""The course's networks, all in one place, one file per task; task code (losses, metrics, decoding,
plots) stays in the task modules.

==============================  ======================================================================
``utils.models.classifiers``    ``MLP``, ``SmallCNN``, ``LeNet5`` (weeks 1-2), ``TunableCNN`` (week 3),
                                ``conv_output_size``, ``count_parameters``
``utils.models.detectors``      ``TinyCenterNet`` (week 4)
``utils.models.segmenters``     ``SmallFCN``, ``SmallUNet`` (week 5)
``utils.models.architectures``  AlexNet to ConvNeXt and ViT from their blocks, full-size and small
                                (weeks 6-7; reached as a module: ``utils.models.architectures.resnet``)
``utils.models.embedders``      ``EmbeddingNet``, ``TimeUNet``, ``timestep_embedding`` (week 9)
``utils.models.generators``     ``Autoencoder``, ``VAE``, ``DCGANGenerator``, ``DCGANDiscriminator``,
                                ``init_dcgan_weights``, ``FeatureExtractor`` (weeks 8-9)
==============================  ======================================================================
"""

from utils.models import architectures
from utils.models.classifiers import MLP, LeNet5, SmallCNN, TunableCNN, conv_output_size, count_parameters
from utils.models.detectors import TinyCenterNet
from utils.models.embedders import EmbeddingNet, TimeUNet, timestep_embedding
from utils.models.generators import (
    VAE,
    Autoencoder,
    DCGANDiscriminator,
    DCGANGenerator,
    FeatureExtractor,
    init_dcgan_weights,
)
from utils.models.segmenters import SmallFCN, SmallUNet

__all__ = [
    "architectures",
    "MLP",
    "LeNet5",
    "SmallCNN",
    "TunableCNN",
    "conv_output_size",
    "count_parameters",
    "TinyCenterNet",
    "VAE",
    "Autoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FeatureExtractor",
    "init_dcgan_weights",
    "SmallFCN",
    "SmallUNet",
    "EmbeddingNet",
    "TimeUNet",
    "timestep_embedding",
]
