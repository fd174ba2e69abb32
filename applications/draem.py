"""DRAEM (2D) and DRAEM3D, with an optional SSMCTB/SSPCAB."""

import keras
import numpy as np
from keras import ops

from keras_ssmctb.applications import anomaly_maps
from keras_ssmctb.applications.anomaly_model import AnomalyModel
from keras_ssmctb.applications.anomaly_model import validate_image_input_shape
from keras_ssmctb.applications.anomaly_model import validate_positive_int
from keras_ssmctb.applications.block_placement import BLOCK_POSITIONS
from keras_ssmctb.applications.block_placement import BlockPlacement
from keras_ssmctb.applications.conv_units import conv_layer
from keras_ssmctb.applications.conv_units import conv_unit
from keras_ssmctb.applications.conv_units import max_pool
from keras_ssmctb.losses import FocalLoss
from keras_ssmctb.losses import LossSum
from keras_ssmctb.losses import SSIMLoss

DRAEM_BLOCK_POSITIONS = BLOCK_POSITIONS + ("bottleneck",)


def _upsample(x, rank, name):
    if rank == 2:
        return keras.layers.UpSampling2D(2, interpolation="bilinear", name=name)(x)
    return keras.layers.UpSampling3D(2, name=name)(x)


def _up_unit(x, filters, name, rank):
    """DRAEM's `up` blocks: upsample x2, then a conv unit."""
    return conv_unit(_upsample(x, rank, f"{name}_upsample"), filters, name, rank)


def reconstructive_subnetwork(inputs, base_filters, channels, rank, placement):
    """DRAEM's reconstructive encoder-decoder (no skip connections)."""
    b = base_filters
    x = inputs
    for stage, filters in enumerate((b, 2 * b, 4 * b, 8 * b), start=1):
        x = conv_unit(x, filters, f"rec_enc{stage}_unit1", rank)
        x = conv_unit(x, filters, f"rec_enc{stage}_unit2", rank)
        x = max_pool(x, rank, f"rec_enc{stage}_pool")

    def bottleneck(t):
        t = conv_unit(t, 8 * b, "rec_enc5_unit1", rank)
        return conv_unit(t, 8 * b, "rec_enc5_unit2", rank)

    x = placement.site("bottleneck", x, "rec_enc5", bottleneck)
    stages = ((1, 8 * b, 4 * b), (2, 4 * b, 2 * b), (3, 2 * b, b), (4, b, b))
    first_unit_sites = {1: "early", 3: "middle"}
    for stage, filters, out_filters in stages:
        x = _up_unit(x, filters, f"rec_dec{stage}_up", rank)
        first = lambda t, f=filters, s=stage: conv_unit(t, f, f"rec_dec{s}_unit1", rank)
        if stage in first_unit_sites:
            x = placement.site(first_unit_sites[stage], x, f"rec_dec{stage}_unit1", first)
        else:
            x = first(x)
        second = lambda t, f=out_filters, s=stage: conv_unit(t, f, f"rec_dec{s}_unit2", rank)
        x = placement.site("late", x, "rec_dec4_unit2", second) if stage == 4 else second(x)
    x = conv_layer(rank, channels, 3, "rec_output_conv")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name="reconstruction")(x)


def discriminative_subnetwork(inputs, base_filters, rank):
    """DRAEM's discriminative U-Net (6 encoder blocks, 5 poolings, skips)."""
    d = base_filters
    x = inputs
    skips = []
    widths = (d, 2 * d, 4 * d, 8 * d, 8 * d, 8 * d)
    for stage, filters in enumerate(widths, start=1):
        if stage > 1:
            x = max_pool(x, rank, f"disc_enc{stage}_pool")
        x = conv_unit(x, filters, f"disc_enc{stage}_unit1", rank)
        x = conv_unit(x, filters, f"disc_enc{stage}_unit2", rank)
        skips.append(x)
    for stage, filters in enumerate((8 * d, 4 * d, 2 * d, d, d), start=1):
        x = _up_unit(x, filters, f"disc_dec{stage}_up", rank)
        x = keras.layers.Concatenate(name=f"disc_dec{stage}_skip")([x, skips[5 - stage]])
        x = conv_unit(x, filters, f"disc_dec{stage}_unit1", rank)
        x = conv_unit(x, filters, f"disc_dec{stage}_unit2", rank)
    x = conv_layer(rank, 2, 3, "disc_output_conv")(x)
    return keras.layers.Softmax(dtype="float32", name="segmentation")(x)


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class DRAEM(AnomalyModel):
    """DRAEM: reconstructive + discriminative networks, optionally with a block.

    Zavrtanik et al.'s surface anomaly detector, trained on normal images
    with synthetic anomalies (see
    `keras_ssmctb.datasets.synthetic_anomalies.DraemAnomalyDataset`). The
    reconstructive sub-network (an encoder of four conv stages with max
    pooling and a bottleneck stage, a decoder of four bilinear-upsampling
    stages, no skips; widths 1, 2, 4, 8 times `base_filters`) maps the
    corrupted image back to a clean one, ending in a sigmoid. The
    discriminative sub-network, a U-Net with six encoder blocks (five
    poolings) and skip connections (widths 1-8 times
    `discriminator_filters`), takes the reconstruction concatenated with the
    input and outputs a 2-class softmax: channel 1 is the anomaly map.

    `block` swaps one conv unit of the reconstructive decoder for SSMCTB or
    SSPCAB: "late" replaces the second unit of the last decoder stage, the
    penultimate conv of the reconstructive network (paper, Sec. 4.3);
    "middle" the first unit of the 1/2-resolution stage; "early" the first
    unit of the 1/8-resolution stage. "bottleneck" replaces the whole
    bottleneck stage (both units), where the SSPCAB authors' DRAEM code and
    anomalib's `sspcab=True` put the block. Blocks are named
    `block_<position>`.

    Images are expected in [0, 1] (`value_range`). The model has two
    outputs, `[reconstruction, segmentation]`; `compile(optimizer=...)` sets
    DRAEM's losses: L2 + SSIM (1 - SSIM, 11x11 window) on the reconstruction
    and the focal loss (gamma = `focal_gamma`) on the segmentation, so
    `fit(augmented, (clean, mask))` trains everything, the block's loss
    included.

    Scoring (`score`, `serving_outputs`): the anomaly map is the
    segmentation's anomaly channel, in [0, 1]; the image score is the
    maximum of the map smoothed by a `smoothing_window`-wide mean filter
    (21, as DRAEM). With `use_block_error=True` the map becomes
    `(map + w * tanh(E)) / (1 + w)`, where E is the blocks' squared
    reconstruction error per position (mean over the block's channels,
    upsampled to the input size) and w is `block_error_weight`; it stays in
    [0, 1].

    Args:
        input_shape: (height, width, channels), no batch axis; height and
            width must be multiples of 32 (the discriminator pools 5 times).
        base_filters: width of the reconstructive network (DRAEM uses 128;
            default 16).
        discriminator_filters: width of the discriminative network (DRAEM
            uses 64; default 8).
        focal_gamma: gamma of the focal loss (default 2).
        smoothing_window: side of the mean filter for the image score
            (default 21).
        block: "ssmctb", "sspcab" or None (default).
        block_position: "late" (default), "middle", "early", "bottleneck",
            or a list.
        block_kwargs: dict of arguments for the block.
        name: model name.

    Example:

    >>> import numpy as np
    >>> model = DRAEM((32, 32, 1), base_filters=8, discriminator_filters=4, block="ssmctb")
    >>> model.compile(optimizer="adam")
    >>> images = np.random.uniform(size=(2, 32, 32, 1)).astype("float32")
    >>> masks = np.zeros((2, 32, 32, 1), "float32")
    >>> _ = model.fit(images, (images, masks), epochs=1, verbose=0)
    >>> scores = model.score(images)
    >>> scores["anomaly_map"].shape, scores["image_score"].shape
    ((2, 32, 32), (2,))

    Reference:
        Zavrtanik, Kristan, Skocaj, "DRAEM - A Discriminatively Trained
        Reconstruction Embedding for Surface Anomaly Detection", ICCV 2021;
        Madan, Ristea et al., TPAMI 2024, Tables 3-4.
    """

    spatial_rank = 2
    input_layout = "(height, width, channels)"
    score_keys = ("anomaly_map", "image_score", "anomaly_score")

    def __init__(
        self,
        input_shape,
        base_filters=16,
        discriminator_filters=8,
        focal_gamma=2.0,
        smoothing_window=21,
        block=None,
        block_position="late",
        block_kwargs=None,
        **kwargs,
    ):
        validate_positive_int("base_filters", base_filters)
        validate_positive_int("discriminator_filters", discriminator_filters)
        validate_positive_int("smoothing_window", smoothing_window)
        if not isinstance(focal_gamma, (int, float)) or focal_gamma < 0:
            raise ValueError(f"`focal_gamma` must be a number >= 0. Received: focal_gamma={focal_gamma!r}")
        shape = validate_image_input_shape(input_shape, self.spatial_rank, 32, self.input_layout)
        channels = shape[-1]
        placement = BlockPlacement(block, block_position, block_kwargs, DRAEM_BLOCK_POSITIONS)

        inputs = keras.Input(shape, name="images")
        reconstruction = reconstructive_subnetwork(inputs, base_filters, channels, self.spatial_rank, placement)
        joined = keras.layers.Concatenate(name="disc_input")([reconstruction, inputs])
        segmentation = discriminative_subnetwork(joined, discriminator_filters, self.spatial_rank)

        super().__init__(
            inputs=inputs,
            outputs=[reconstruction, segmentation],
            placement=placement,
            value_range=(0.0, 1.0),
            serving_input_shape=shape,
            config={
                "input_shape": list(shape),
                "base_filters": base_filters,
                "discriminator_filters": discriminator_filters,
                "focal_gamma": focal_gamma,
                "smoothing_window": smoothing_window,
                "block": block,
                "block_position": block_position if isinstance(block_position, str) else list(block_position),
                "block_kwargs": block_kwargs,
            },
            **kwargs,
        )
        self.channels = channels
        self.base_filters = base_filters
        self.discriminator_filters = discriminator_filters
        self.focal_gamma = focal_gamma
        self.smoothing_window = smoothing_window

    def default_loss(self):
        reconstruction_loss = LossSum(
            [keras.losses.MeanSquaredError(name="l2_loss"), SSIMLoss(window_size=11)],
            name="l2_ssim_loss",
        )
        return [reconstruction_loss, FocalLoss(gamma=self.focal_gamma)]

    def serving_batch(self, x, y):
        if y is not None:
            raise ValueError("DRAEM scores images alone; pass `y=None`.")
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.serving_input_shape:
            raise ValueError(
                f"Expected images of shape (batch,) + {self.serving_input_shape}. "
                f"Received: {tuple(x.shape)}"
            )
        return x

    def score_tensors(self, inputs, use_block_error=False, block_error_weight=1.0):
        (reconstruction, segmentation), block_io = self.run_with_blocks(ops.convert_to_tensor(inputs))
        anomaly_map = ops.cast(segmentation[..., 1], "float32")
        if use_block_error:
            block_map = ops.tanh(self.block_error(block_io, anomaly_map.shape[1:]))
            anomaly_map = (anomaly_map + block_error_weight * block_map) / (1.0 + block_error_weight)
        smoothed = anomaly_maps.uniform_smooth(anomaly_map, self.smoothing_window)
        image_score = anomaly_maps.spatial_max(smoothed)
        return {
            "reconstruction": reconstruction,
            "anomaly_map": anomaly_map,
            "image_score": image_score,
            "anomaly_score": image_score,
        }

    def serving_outputs(self, inputs, use_block_error=False, block_error_weight=1.0):
        """Traceable outputs for serving (keras.ops only).

        Args:
            inputs: images of shape (batch,) + `serving_input_shape`.
            use_block_error, block_error_weight: as in `score`.

        Returns:
            dict with `reconstruction`, `anomaly_map` (batch, *spatial) in
            [0, 1] and `anomaly_score` (batch,), the image score.
        """
        tensors = self.score_tensors(inputs, use_block_error, block_error_weight)
        return {k: tensors[k] for k in ("reconstruction", "anomaly_map", "anomaly_score")}


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class DRAEM3D(DRAEM):
    """DRAEM with 3D convolutions and the 3D block, for volumes.

    The paper's "3D DRAEM" (Table 4, BRATS): the same two sub-networks as
    `DRAEM` with every 2D conv, pooling and upsampling replaced by its 3D
    counterpart (upsampling is nearest-neighbour; Keras has no trilinear
    `UpSampling3D`), and SSMCTB/SSPCAB switching to their 3D masked
    convolution from the input rank. Scoring smooths the anomaly map with a
    `smoothing_window`-wide 3D mean filter. Train it on
    `DraemAnomalyDataset` built from volumes (3D Perlin-noise anomalies).

    Args:
        input_shape: (depth, height, width, channels), no batch axis; each
            spatial side a multiple of 32.
        Other arguments as `DRAEM`.

    Example:

    >>> model = DRAEM3D((32, 32, 32, 1), base_filters=4, discriminator_filters=4)
    >>> model.output_shape
    [(None, 32, 32, 32, 1), (None, 32, 32, 32, 2)]

    Reference:
        Madan, Ristea et al., TPAMI 2024, Sec. 3.2 and Table 4.
    """

    spatial_rank = 3
    input_layout = "(depth, height, width, channels)"
