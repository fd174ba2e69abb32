"""Future-frame prediction U-Net of Liu et al., with an optional SSMCTB/SSPCAB."""

import keras

from keras_ssmctb.applications.anomaly_model import VideoAnomalyModel
from keras_ssmctb.applications.anomaly_model import split_frames
from keras_ssmctb.applications.anomaly_model import validate_image_input_shape
from keras_ssmctb.applications.anomaly_model import validate_positive_int
from keras_ssmctb.applications.block_placement import BlockPlacement
from keras_ssmctb.applications.conv_units import conv_unit
from keras_ssmctb.applications.conv_units import max_pool
from keras_ssmctb.losses import GradientLoss
from keras_ssmctb.losses import LossSum


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class UNetPredictor(VideoAnomalyModel):
    """U-Net generator for future-frame prediction (Liu et al.), optionally with a block.

    The generator of "Future Frame Prediction for Anomaly Detection": a
    4-level U-Net. Each encoder level has two 3x3 conv-ReLU units (widths 1,
    2, 4, 8 times `base_filters`) with 2x2 max pooling between levels; each
    of the three decoder levels upsamples with a 2x2 stride-2 transposed
    conv, concatenates the encoder's skip and applies two 3x3 conv-ReLU
    units; a 1x1 conv and tanh give the predicted frame.

    `block` swaps one decoder conv unit for SSMCTB or SSPCAB: "late" replaces
    the second unit of the last decoder level, the penultimate conv of the
    network (paper, Sec. 4.3); "middle" the second unit of the 1/2-resolution
    level; "early" that of the 1/4-resolution level. Each block is named
    `block_<position>`.

    Frames are expected in [-1, 1] (`value_range`). `compile(optimizer=...)`
    sets Liu et al.'s intensity (L2) + gradient loss (weights
    `intensity_weight`, `gradient_weight`, 1 and 1 in the paper); the
    block's loss is added by the block. The adversarial and optical-flow
    terms of the original GAN training are not part of this model (they need
    a discriminator and a pretrained FlowNet).

    Scoring: `score(x, y)` returns numpy `psnr` (N,), `error_map`,
    `anomaly_map` (N, H, W) and `anomaly_score` (N,) (minus the PSNR; with
    `use_block_error=True` the block's own squared error, upsampled, is added
    to the map first, paper Sec. 3.1). `serving_outputs(clips)` computes the
    same with `keras.ops` from clips of `serving_input_shape`: the T input
    frames followed by the frame to score, (H, W, (T+1)*C) for prediction.
    See `VideoAnomalyModel` for the definitions.

    Args:
        input_shape: (height, width, T * channels), no batch axis; height and
            width must be multiples of 8.
        num_input_frames: T, the past frames stacked on channels (default 4).
        base_filters: width of the first level (Liu et al. use 64; default 16).
        intensity_weight: weight of the L2 intensity loss (default 1).
        gradient_weight: weight of the gradient loss (default 1).
        block: "ssmctb", "sspcab" or None (default).
        block_position: "late" (default), "middle", "early", or a list.
        block_kwargs: dict of arguments for the block.
        name: model name.

    Example:

    >>> import numpy as np
    >>> model = UNetPredictor((32, 32, 4), base_filters=8, block="ssmctb")
    >>> model.compile(optimizer="adam")
    >>> clips = np.random.uniform(-1, 1, (2, 32, 32, 5)).astype("float32")
    >>> model.score(clips)["anomaly_map"].shape  # 4 past frames + the target
    (2, 32, 32)

    Reference:
        Liu, Luo, Lian, Gao, "Future Frame Prediction for Anomaly Detection -
        A New Baseline", CVPR 2018; Madan, Ristea et al., TPAMI 2024.
    """

    def __init__(
        self,
        input_shape,
        num_input_frames=4,
        base_filters=16,
        intensity_weight=1.0,
        gradient_weight=1.0,
        block=None,
        block_position="late",
        block_kwargs=None,
        **kwargs,
    ):
        validate_positive_int("num_input_frames", num_input_frames)
        validate_positive_int("base_filters", base_filters)
        for arg, value in (("intensity_weight", intensity_weight), ("gradient_weight", gradient_weight)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{arg}` must be a number >= 0. Received: {arg}={value!r}")
        shape = validate_image_input_shape(input_shape, 2, 8, "(height, width, T * channels)")
        channels = split_frames(shape, num_input_frames)
        placement = BlockPlacement(block, block_position, block_kwargs)

        b = base_filters
        inputs = keras.Input(shape, name="frames")
        x = inputs
        skips = []
        for level in range(4):
            filters = b * 2**level
            x = conv_unit(x, filters, f"enc{level + 1}_unit1", batch_norm=False)
            x = conv_unit(x, filters, f"enc{level + 1}_unit2", batch_norm=False)
            if level < 3:
                skips.append(x)
                x = max_pool(x, 2, f"enc{level + 1}_pool")
        positions = {1: "early", 2: "middle", 3: "late"}
        for stage, level in enumerate((2, 1, 0), start=1):
            filters = b * 2**level
            x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"dec{stage}_up_conv")(x)
            x = keras.layers.Concatenate(name=f"dec{stage}_skip")([skips[level], x])
            x = conv_unit(x, filters, f"dec{stage}_unit1", batch_norm=False)
            x = placement.site(
                positions[stage],
                x,
                f"dec{stage}_unit2",
                lambda t, f=filters, s=stage: conv_unit(t, f, f"dec{s}_unit2", batch_norm=False),
            )
        x = keras.layers.Conv2D(channels, 1, name="output_conv")(x)
        outputs = keras.layers.Activation("tanh", dtype="float32", name="output_tanh")(x)

        super().__init__(
            inputs=inputs,
            outputs=outputs,
            placement=placement,
            value_range=(-1.0, 1.0),
            serving_input_shape=shape[:-1] + ((num_input_frames + 1) * channels,),
            config={
                "input_shape": list(shape),
                "num_input_frames": num_input_frames,
                "base_filters": base_filters,
                "intensity_weight": intensity_weight,
                "gradient_weight": gradient_weight,
                "block": block,
                "block_position": block_position if isinstance(block_position, str) else list(block_position),
                "block_kwargs": block_kwargs,
            },
            **kwargs,
        )
        self.num_input_frames = num_input_frames
        self.channels = channels
        self.task = "prediction"
        self.base_filters = base_filters
        self.intensity_weight = intensity_weight
        self.gradient_weight = gradient_weight

    def default_loss(self):
        return LossSum(
            [keras.losses.MeanSquaredError(name="intensity_loss"), GradientLoss()],
            weights=[self.intensity_weight, self.gradient_weight],
            name="intensity_gradient_loss",
        )
