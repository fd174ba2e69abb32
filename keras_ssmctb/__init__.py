"""keras-ssmctb: the self-supervised masked convolutional transformer block for Keras 3."""

from keras_ssmctb.layers import ChannelTransformer
from keras_ssmctb.layers import MaskedConv2D
from keras_ssmctb.layers import MaskedConv3D
from keras_ssmctb.layers import SpatialTransformer
from keras_ssmctb.layers import SSMCTB
from keras_ssmctb.layers import SSPCAB
from keras_ssmctb.layers import TransformerEncoder

__version__ = "0.1.0"

__all__ = [
    "ChannelTransformer",
    "MaskedConv2D",
    "MaskedConv3D",
    "SSMCTB",
    "SSPCAB",
    "SpatialTransformer",
    "TransformerEncoder",
]
