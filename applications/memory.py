"""The memory module of Park et al. (MNAD): memory items, read, update, losses."""

import keras
from keras import ops


def _l2_normalize(x, axis=-1):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class Memory(keras.layers.Layer):
    """Memory of normal prototypes read by every query feature (MNAD).

    Park et al. (CVPR 2020), Sec. 3.2: the encoder's features (queries) are
    L2-normalised; each query reads a soft combination of `memory_size`
    L2-normalised memory items (softmax over items of the query-item cosine
    similarities) and the layer outputs the query concatenated with what it
    read, so the decoder sees twice the query's channels.

    During training (`training=True`) the items are updated without
    gradients: each item adds the queries that chose it as their nearest
    item, weighted by the query-wise softmax normalised by its maximum, and is
    re-normalised (Eq. 4); the read then uses the updated items, as in the
    reference code. Two losses are registered with `add_loss` on every call:

    - compactness (feature compactness, Eq. 9): mean squared distance of each
      query to its nearest item, times `compactness_weight`;
    - separateness (Eq. 10): triplet margin loss with the nearest item as the
      positive and the second nearest as the negative, times
      `separateness_weight`.

    MNAD also updates the memory at test time for frames it judges normal;
    this layer does not (inference leaves the items unchanged).

    Args:
        memory_size: number of memory items M (default 10, as MNAD); >= 2.
        compactness_weight: weight of the compactness loss (default 0.1).
        separateness_weight: weight of the separateness loss (default 0.1).
        margin: margin of the triplet loss (default 1.0).

    Call arguments:
        inputs: query features (batch, height, width, channels).
        training: Python bool; True updates the items.

    Example:

    >>> import numpy as np
    >>> memory = Memory(memory_size=4)
    >>> tuple(memory(np.ones((2, 3, 3, 8), "float32")).shape)
    (2, 3, 3, 16)
    >>> len(memory.losses)
    2

    Reference:
        Park, Noh, Ham, "Learning Memory-guided Normality for Anomaly
        Detection", CVPR 2020.
    """

    def __init__(self, memory_size=10, compactness_weight=0.1, separateness_weight=0.1, margin=1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(memory_size, int) or isinstance(memory_size, bool) or memory_size < 2:
            raise ValueError(
                f"`memory_size` must be an int >= 2 (the separateness loss uses the two "
                f"nearest items). Received: memory_size={memory_size!r}"
            )
        for arg, value in (
            ("compactness_weight", compactness_weight),
            ("separateness_weight", separateness_weight),
            ("margin", margin),
        ):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{arg}` must be a number >= 0. Received: {arg}={value!r}")
        self.memory_size = memory_size
        self.compactness_weight = float(compactness_weight)
        self.separateness_weight = float(separateness_weight)
        self.margin = float(margin)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"Memory needs a known channel dimension. Received: input_shape={input_shape}")
        # MNAD initialises the items with uniform noise, then normalises;
        # they are always read normalised.
        self.items = self.add_weight(
            shape=(self.memory_size, dim),
            initializer=keras.initializers.RandomUniform(0.0, 1.0),
            trainable=False,
            name="items",
        )

    def call(self, inputs, training=None):
        query = _l2_normalize(ops.cast(inputs, "float32"))
        dim = query.shape[-1]
        flat = ops.reshape(query, (-1, dim))
        items = _l2_normalize(ops.convert_to_tensor(self.items))
        similarity = ops.matmul(flat, ops.transpose(items))  # (N, M)
        _, nearest = ops.top_k(similarity, k=2)
        positive = ops.take(items, nearest[:, 0], axis=0)
        negative = ops.take(items, nearest[:, 1], axis=0)

        compactness = ops.mean(ops.square(flat - positive))
        positive_distance = ops.sqrt(ops.sum(ops.square(flat - positive), axis=-1) + 1e-12)
        negative_distance = ops.sqrt(ops.sum(ops.square(flat - negative), axis=-1) + 1e-12)
        separateness = ops.mean(ops.relu(positive_distance - negative_distance + self.margin))
        self.add_loss(self.compactness_weight * compactness)
        self.add_loss(self.separateness_weight * separateness)

        if training:
            query_softmax = ops.softmax(similarity, axis=0)
            weights = ops.one_hot(nearest[:, 0], self.memory_size, dtype="float32") * query_softmax
            weights = weights / ops.max(query_softmax, axis=0, keepdims=True)
            update = ops.matmul(ops.transpose(weights), flat)
            items = ops.stop_gradient(_l2_normalize(items + update))
            self.items.assign(items)
            similarity = ops.matmul(flat, ops.transpose(items))
        read = ops.stop_gradient(ops.matmul(ops.softmax(similarity, axis=-1), items))
        read = ops.reshape(read, ops.shape(query))
        return ops.cast(ops.concatenate([query, read], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "memory_size": self.memory_size,
                "compactness_weight": self.compactness_weight,
                "separateness_weight": self.separateness_weight,
                "margin": self.margin,
            }
        )
        return config
