"""SSMCTB: the self-supervised masked convolutional transformer block."""

import keras

from keras_ssmctb.layers.channel_transformer import (
    ChannelTransformer,
    SpatialTransformer,
    _validate_transformer_args,
)
from keras_ssmctb.layers.self_supervised_block import SelfSupervisedBlock

ATTENTION_TYPES = ("channel", "spatial", "channel_spatial", None)


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class SSMCTB(SelfSupervisedBlock):
    """Self-supervised masked convolutional transformer block.

    Masked convolution (2D or 3D, chosen from the input rank) followed by a
    channel-wise transformer (paper, Fig. 1). The block's output X_hat has its
    input X's shape; on every call it registers `loss_weight * loss(X_hat, X)`
    with `add_loss` (Eq. 8), computed in float32 even under mixed precision,
    so a plain `model.compile(...); model.fit(...)` trains it. It usually
    replaces the penultimate conv layer of an anomaly-detection model.

    Every switch the paper's ablations report is an argument: `kernel_size`
    and `dilation` (Table 2), `masked_size` (Table 9), `loss` (Table 2),
    `attention` (Table 2), `pool_size`/`token_dim`/`num_heads`/`num_blocks`
    (Table 10), `huber_delta` (Table 11), `conv="dilated"` (Table 12).

    Args:
        kernel_size: k', side of each masked-conv sub-kernel (default 1).
        dilation: d >= 0, gap between sub-kernels and the masked centre
            (default 1).
        masked_size: m in {1, 2, 3}, side of the masked centre (default 1).
        token_dim: d_t of the transformer tokens (default 64).
        num_heads: H attention heads (default 4).
        num_blocks: L transformer blocks (default 2).
        pool_size: h' x w' after average pooling (default 1, global pooling).
        loss: "huber" (default), "mse", "mae" or "ssim" (1 - SSIM).
        huber_delta: delta of the Huber loss (default 1.0).
        loss_weight: lambda, the loss weight (default 0.1; the paper uses
            0.001 for two host models whose own losses are small).
        attention: "channel" (default), "spatial", "channel_spatial" (channel
            then spatial) or None (masked conv only, the "+SSMC" rows).
        conv: "masked" (default) or "dilated" (the SSDCTB control: an
            unmasked (2k'+1)-wide conv with dilation d + 1).
        filters: must be None or equal to the input's channels (the block
            reconstructs its input); accepted for drop-in use.
        output_error: if True, the call returns `(x_hat, error_map)` where
            `error_map` is ||X_hat - X||_2 over channels (channel axis kept,
            float32), the block's own anomaly signal (Sec. 3.1).
        key_dim, mlp_dim, dropout: transformer details; `key_dim=None` means
            `token_dim // num_heads`, `mlp_dim=None` means `4 * token_dim`,
            dropout defaults to 0.
        data_format: "channels_last" (default) or "channels_first".
        kernel_initializer, kernel_regularizer: for the convolution.

    Call arguments:
        inputs: a (batch, height, width, channels) or (batch, depth, height,
            width, channels) tensor (channels first with `data_format`).
        training: Python bool, for dropout.

    Example:

    >>> import keras, numpy as np
    >>> from keras_ssmctb import SSMCTB
    >>> inputs = keras.Input((16, 16, 8))
    >>> outputs = SSMCTB(token_dim=16, num_heads=2)(inputs)
    >>> model = keras.Model(inputs, outputs)
    >>> _ = model(np.zeros((1, 16, 16, 8), "float32"))
    >>> len(model.losses)
    1

    Reference:
        Madan, Ristea et al., "Self-Supervised Masked Convolutional Transformer
        Block for Anomaly Detection", TPAMI 2024.
    """

    def __init__(
        self,
        kernel_size=1,
        dilation=1,
        masked_size=1,
        token_dim=64,
        num_heads=4,
        num_blocks=2,
        pool_size=1,
        loss="huber",
        huber_delta=1.0,
        loss_weight=0.1,
        attention="channel",
        conv="masked",
        key_dim=None,
        mlp_dim=None,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(
            kernel_size=kernel_size,
            dilation=dilation,
            masked_size=masked_size,
            loss=loss,
            huber_delta=huber_delta,
            loss_weight=loss_weight,
            conv=conv,
            **kwargs,
        )
        if attention not in ATTENTION_TYPES:
            raise ValueError(
                f"`attention` must be one of {ATTENTION_TYPES}. Received: attention={attention!r}"
            )
        _validate_transformer_args(token_dim, num_heads, num_blocks, key_dim, mlp_dim, dropout)
        self.token_dim = token_dim
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.pool_size = pool_size
        self.attention = attention
        self.key_dim = key_dim
        self.mlp_dim = mlp_dim
        self.dropout = dropout

    def build_attention(self, input_shape):
        common = dict(
            token_dim=self.token_dim,
            num_heads=self.num_heads,
            num_blocks=self.num_blocks,
            key_dim=self.key_dim,
            mlp_dim=self.mlp_dim,
            dropout=self.dropout,
            data_format=self.data_format,
            dtype=self.dtype_policy,
        )
        self.attention_layers = []
        if self.attention in ("channel", "channel_spatial"):
            self.attention_layers.append(
                ChannelTransformer(pool_size=self.pool_size, name="channel_transformer", **common)
            )
        if self.attention in ("spatial", "channel_spatial"):
            self.attention_layers.append(SpatialTransformer(name="spatial_transformer", **common))
        for layer in self.attention_layers:
            layer.build(input_shape)

    def attend(self, features, training=None):
        for layer in self.attention_layers:
            features = layer(features, training=training)
        return features

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "token_dim": self.token_dim,
                "num_heads": self.num_heads,
                "num_blocks": self.num_blocks,
                "pool_size": self.pool_size,
                "attention": self.attention,
                "key_dim": self.key_dim,
                "mlp_dim": self.mlp_dim,
                "dropout": self.dropout,
            }
        )
        return config
