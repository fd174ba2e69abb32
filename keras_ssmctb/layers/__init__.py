"""Keras layers of the SSMCTB paper: masked convolutions, attention, blocks."""

from keras_ssmctb.layers.channel_transformer import ChannelTransformer
from keras_ssmctb.layers.channel_transformer import SpatialTransformer
from keras_ssmctb.layers.channel_transformer import TransformerEncoder
from keras_ssmctb.layers.masked_conv import MaskedConv2D
from keras_ssmctb.layers.masked_conv import MaskedConv3D
from keras_ssmctb.layers.ssmctb import SSMCTB
from keras_ssmctb.layers.sspcab import SSPCAB

__all__ = [
    "ChannelTransformer",
    "MaskedConv2D",
    "MaskedConv3D",
    "SSMCTB",
    "SSPCAB",
    "SpatialTransformer",
    "TransformerEncoder",
]
