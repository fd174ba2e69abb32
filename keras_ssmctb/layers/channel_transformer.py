"""Transformer attention over channels (SSMCTB) or positions (the ablation)."""

import keras
from keras import ops

from keras_ssmctb.layers.masked_conv import _standardize_data_format


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class TransformerEncoder(keras.layers.Layer):
    """Pre-norm transformer stack over a token sequence (paper, Eqs. 1-5).

    `num_blocks` times: `P = MHA(LN(R)) + R; R = MLP(LN(P)) + P`. The
    multi-head attention's output projection sums the heads' outputs after a
    learned projection, the general form of the paper's Eq. 4.

    Args:
        token_dim: width d_t of each token.
        num_heads: H attention heads.
        num_blocks: L blocks.
        key_dim: per-head query/key width; `None` = `token_dim // num_heads`
            (then `num_heads` must divide `token_dim`).
        mlp_dim: hidden width of the MLP; `None` = `4 * token_dim`.
        dropout: dropout rate in attention and MLP (default 0).
        layer_norm_epsilon: default 1e-6.
    """

    def __init__(
        self,
        token_dim=64,
        num_heads=4,
        num_blocks=2,
        key_dim=None,
        mlp_dim=None,
        dropout=0.0,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_transformer_args(token_dim, num_heads, num_blocks, key_dim, mlp_dim, dropout)
        self.token_dim = token_dim
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.key_dim = key_dim
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        key_dim = key_dim if key_dim is not None else token_dim // num_heads
        mlp_dim = mlp_dim if mlp_dim is not None else 4 * token_dim
        policy = self.dtype_policy
        self.attention_norms = [
            keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=policy, name=f"attention_norm_{i}"
            )
            for i in range(num_blocks)
        ]
        self.attentions = [
            keras.layers.MultiHeadAttention(
                num_heads=num_heads,
                key_dim=key_dim,
                dropout=dropout,
                dtype=policy,
                name=f"attention_{i}",
            )
            for i in range(num_blocks)
        ]
        self.mlp_norms = [
            keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=policy, name=f"mlp_norm_{i}"
            )
            for i in range(num_blocks)
        ]
        self.mlp_hiddens = [
            keras.layers.Dense(mlp_dim, activation="gelu", dtype=policy, name=f"mlp_hidden_{i}")
            for i in range(num_blocks)
        ]
        self.mlp_outputs = [
            keras.layers.Dense(token_dim, dtype=policy, name=f"mlp_output_{i}")
            for i in range(num_blocks)
        ]
        self.mlp_dropout = keras.layers.Dropout(dropout, dtype=policy, name="mlp_dropout")

    def build(self, input_shape):
        hidden_shape = tuple(input_shape[:-1]) + (self.mlp_hiddens[0].units,)
        for i in range(self.num_blocks):
            self.attention_norms[i].build(input_shape)
            self.attentions[i].build(input_shape, input_shape)
            self.mlp_norms[i].build(input_shape)
            self.mlp_hiddens[i].build(input_shape)
            self.mlp_outputs[i].build(hidden_shape)

    def call(self, tokens, training=None):
        for i in range(self.num_blocks):
            normed = self.attention_norms[i](tokens)
            tokens = tokens + self.attentions[i](normed, normed, training=training)
            mlp = self.mlp_outputs[i](self.mlp_hiddens[i](self.mlp_norms[i](tokens)))
            tokens = tokens + self.mlp_dropout(mlp, training=training)
        return tokens

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "token_dim": self.token_dim,
                "num_heads": self.num_heads,
                "num_blocks": self.num_blocks,
                "key_dim": self.key_dim,
                "mlp_dim": self.mlp_dim,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config


def _validate_transformer_args(token_dim, num_heads, num_blocks, key_dim, mlp_dim, dropout):
    _positive_int("token_dim", token_dim)
    _positive_int("num_heads", num_heads)
    _positive_int("num_blocks", num_blocks)
    if key_dim is not None:
        _positive_int("key_dim", key_dim)
    elif token_dim % num_heads != 0:
        raise ValueError(
            f"`num_heads` must divide `token_dim` when `key_dim` is None "
            f"(each head gets token_dim // num_heads dims). Received: "
            f"num_heads={num_heads}, token_dim={token_dim}; pass `key_dim` or "
            f"choose num_heads in "
            f"{[h for h in range(1, token_dim + 1) if token_dim % h == 0]}"
        )
    if mlp_dim is not None:
        _positive_int("mlp_dim", mlp_dim)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")


class _TokenAttention(keras.layers.Layer):
    """Shared body of channel and spatial attention: tokens -> weights -> scale."""

    def __init__(
        self,
        token_dim=64,
        num_heads=4,
        num_blocks=2,
        key_dim=None,
        mlp_dim=None,
        dropout=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_transformer_args(token_dim, num_heads, num_blocks, key_dim, mlp_dim, dropout)
        self.token_dim = token_dim
        self.num_heads = num_heads
        self.num_blocks = num_blocks
        self.key_dim = key_dim
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.data_format = _standardize_data_format(data_format)
        self.projection = keras.layers.Dense(
            token_dim, dtype=self.dtype_policy, name="projection"
        )
        self.encoder = TransformerEncoder(
            token_dim=token_dim,
            num_heads=num_heads,
            num_blocks=num_blocks,
            key_dim=key_dim,
            mlp_dim=mlp_dim,
            dropout=dropout,
            dtype=self.dtype_policy,
            name="encoder",
        )

    def _check_rank(self, input_shape):
        if len(input_shape) not in (4, 5):
            raise ValueError(
                f"{self.__class__.__name__} expects a 2D (rank 4) or 3D (rank 5) "
                f"feature map. Received: input_shape={tuple(input_shape)}"
            )
        channel_axis = -1 if self.data_format == "channels_last" else 1
        if input_shape[channel_axis] is None:
            raise ValueError(
                f"{self.__class__.__name__} needs a known channel dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return len(input_shape) - 2

    def _build_tokens(self, num_tokens, token_width):
        self.projection.build((None, num_tokens, token_width))
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(num_tokens, self.token_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        self.encoder.build((None, num_tokens, self.token_dim))

    def _token_weights(self, tokens, training):
        tokens = self.projection(tokens) + ops.cast(self.position_embedding, self.compute_dtype)
        tokens = self.encoder(tokens, training=training)
        return ops.sigmoid(ops.mean(tokens, axis=-1))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "token_dim": self.token_dim,
                "num_heads": self.num_heads,
                "num_blocks": self.num_blocks,
                "key_dim": self.key_dim,
                "mlp_dim": self.mlp_dim,
                "dropout": self.dropout,
                "data_format": self.data_format,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class ChannelTransformer(_TokenAttention):
    """Channel-wise transformer attention (paper, Sec. 3.2, Eqs. 1-6).

    Average-pools the feature map Z to `pool_size` per spatial axis, makes one
    token per channel from its n pooled values, projects the tokens to
    `token_dim` and adds a learned positional embedding, runs `num_blocks`
    pre-norm transformer blocks with `num_heads` heads, averages each token
    over its `token_dim` values and applies a sigmoid: one weight per channel.
    The output is Z scaled by those weights, broadcast over space (Eq. 6).

    Args:
        token_dim: d_t, token width after the projection (default 64).
        num_heads: H attention heads (default 4).
        num_blocks: L transformer blocks (default 2).
        pool_size: h' (x w' (x r')) after average pooling; an int applies to
            every spatial axis. Default 1 (global average pooling, the paper's
            best). Sizes that do not divide the input use adaptive pooling.
        key_dim: per-head query/key width; `None` = `token_dim // num_heads`.
        mlp_dim: MLP hidden width; `None` = `4 * token_dim`.
        dropout: dropout in attention and MLP (default 0).
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Call arguments:
        inputs: a 2D or 3D feature map (rank 4 or 5).
        training: Python bool, for dropout.

    Returns:
        A tensor with the input's shape.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb import ChannelTransformer
    >>> ChannelTransformer(token_dim=16, num_heads=2)(
    ...     np.ones((2, 8, 8, 4), "float32")).shape
    (2, 8, 8, 4)

    Reference:
        Madan, Ristea et al., TPAMI 2024, Sec. 3.2 and Table 10.
    """

    def __init__(self, token_dim=64, num_heads=4, num_blocks=2, pool_size=1, **kwargs):
        super().__init__(token_dim=token_dim, num_heads=num_heads, num_blocks=num_blocks, **kwargs)
        sizes = pool_size if isinstance(pool_size, (tuple, list)) else (pool_size,)
        for size in sizes:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ValueError(
                    f"`pool_size` must be a positive int or a tuple of them. "
                    f"Received: pool_size={pool_size!r}"
                )
        self.pool_size = tuple(pool_size) if isinstance(pool_size, (tuple, list)) else pool_size

    def build(self, input_shape):
        rank = self._check_rank(input_shape)
        pool = self.pool_size if isinstance(self.pool_size, tuple) else (self.pool_size,) * rank
        if len(pool) != rank:
            raise ValueError(
                f"`pool_size` has {len(pool)} entries but the input has {rank} "
                f"spatial axes. Received: pool_size={self.pool_size!r}, "
                f"input_shape={tuple(input_shape)}"
            )
        self._pool = pool
        self._rank = rank
        self.pooling = None
        if any(p != 1 for p in pool):
            pooling_class = (
                keras.layers.AdaptiveAveragePooling2D
                if rank == 2
                else keras.layers.AdaptiveAveragePooling3D
            )
            self.pooling = pooling_class(pool, data_format=self.data_format, dtype=self.dtype_policy)
        channel_axis = -1 if self.data_format == "channels_last" else 1
        n = 1
        for p in pool:
            n *= p
        self._build_tokens(input_shape[channel_axis], n)

    def call(self, inputs, training=None):
        channels_last = self.data_format == "channels_last"
        spatial_axes = tuple(range(1, self._rank + 1)) if channels_last else tuple(
            range(2, self._rank + 2)
        )
        if self.pooling is None:
            # (B, C, 1): one pooled value per channel token.
            tokens = ops.expand_dims(ops.mean(inputs, axis=spatial_axes), -1)
        else:
            pooled = self.pooling(inputs)
            channels = ops.shape(inputs)[-1 if channels_last else 1]
            if channels_last:
                pooled = ops.reshape(pooled, (ops.shape(pooled)[0], -1, channels))
                tokens = ops.transpose(pooled, (0, 2, 1))
            else:
                tokens = ops.reshape(pooled, (ops.shape(pooled)[0], channels, -1))
        weights = self._token_weights(tokens, training)  # (B, C)
        if channels_last:
            weights = ops.reshape(weights, [ops.shape(weights)[0]] + [1] * self._rank + [-1])
        else:
            weights = ops.reshape(weights, [ops.shape(weights)[0], -1] + [1] * self._rank)
        return inputs * weights

    def get_config(self):
        config = super().get_config()
        config["pool_size"] = self.pool_size
        return config


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class SpatialTransformer(_TokenAttention):
    """Spatial transformer attention: the paper's "SA" ablation (Table 2).

    One token per spatial position (its channel vector), projected to
    `token_dim` with a learned positional embedding, through `num_blocks`
    pre-norm transformer blocks, averaged and passed through a sigmoid: one
    weight per position, broadcast over channels. Attention is quadratic in
    the number of positions, and the positional embedding fixes the spatial
    size at build time; the paper found channel attention better and faster.

    Args:
        token_dim, num_heads, num_blocks, key_dim, mlp_dim, dropout,
        data_format: as in `ChannelTransformer`.

    Call arguments:
        inputs: a 2D or 3D feature map with known spatial size.
        training: Python bool, for dropout.

    Returns:
        A tensor with the input's shape.

    Example:

    >>> import numpy as np
    >>> from keras_ssmctb import SpatialTransformer
    >>> SpatialTransformer(token_dim=16, num_heads=2)(
    ...     np.ones((2, 8, 8, 4), "float32")).shape
    (2, 8, 8, 4)

    Reference:
        Madan, Ristea et al., TPAMI 2024, Sec. 4.4.
    """

    def build(self, input_shape):
        rank = self._check_rank(input_shape)
        self._rank = rank
        channels_last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if channels_last else input_shape[2:]
        if any(s is None for s in spatial):
            raise ValueError(
                f"SpatialTransformer (attention='spatial') needs a known spatial "
                f"size for its positional embedding. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        self._spatial = tuple(spatial)
        n = 1
        for s in spatial:
            n *= s
        self._build_tokens(n, input_shape[-1 if channels_last else 1])

    def call(self, inputs, training=None):
        channels_last = self.data_format == "channels_last"
        batch = ops.shape(inputs)[0]
        if channels_last:
            channels = ops.shape(inputs)[-1]
            tokens = ops.reshape(inputs, (batch, -1, channels))
        else:
            channels = ops.shape(inputs)[1]
            tokens = ops.transpose(ops.reshape(inputs, (batch, channels, -1)), (0, 2, 1))
        weights = self._token_weights(tokens, training)  # (B, positions)
        if channels_last:
            weights = ops.reshape(weights, (batch,) + self._spatial + (1,))
        else:
            weights = ops.reshape(weights, (batch, 1) + self._spatial)
        return inputs * weights
