"""Frame autoencoder of Park et al. (MNAD), with an optional SSMCTB/SSPCAB."""

import keras

from keras_ssmctb.applications.anomaly_model import VideoAnomalyModel
from keras_ssmctb.applications.anomaly_model import split_frames
from keras_ssmctb.applications.anomaly_model import validate_image_input_shape
from keras_ssmctb.applications.anomaly_model import validate_positive_int
from keras_ssmctb.applications.block_placement import BlockPlacement
from keras_ssmctb.applications.conv_units import conv_layer
from keras_ssmctb.applications.conv_units import conv_unit
from keras_ssmctb.applications.conv_units import max_pool
from keras_ssmctb.applications.memory import Memory

TASKS = ("prediction", "reconstruction")


@keras.saving.register_keras_serializable(package="keras_ssmctb")
class FrameAutoencoder(VideoAnomalyModel):
    """Memory-guided frame autoencoder (Park et al., MNAD), optionally with a block.

    The model of the paper's video experiments and ablations (Tables 2, 5, 6,
    8-12). T frames stacked on the channel axis go through a U-Net-like
    encoder-decoder: four encoder stages (two conv-BN-ReLU units each, the
    last ending in a plain conv; max pooling between), an optional memory
    module at the bottleneck (`Memory`: read, update, compactness and
    separateness losses), and four decoder stages (transposed-conv
    upsampling; skip connections for prediction only, as MNAD) ending in a
    3x3 conv and tanh. For `task="prediction"` the model predicts frame T+1;
    for `task="reconstruction"` it reconstructs the last input frame.

    `block` swaps one decoder conv unit for SSMCTB or SSPCAB:
    "late" replaces the second unit of the last decoder stage, i.e. the
    penultimate conv of the network (the paper's default, Sec. 4.3);
    "middle" the second unit of the stage at 1/2 resolution; "early" the
    second unit of the first decoder stage at 1/8 resolution (Table 8).
    A list places several blocks. Each block is named `block_<position>`.

    Frames are expected in [-1, 1] (`value_range`), the tanh output range.
    `compile(optimizer=...)` sets the intensity (mean squared error) loss on
    the output; the block and the memory register their own losses, so
    `fit(x, y)` with x = clips (N, H, W, T*C) and y = target frames
    (N, H, W, C) trains everything (MNAD's total loss, Eq. 11, with the block's
    loss added as in the paper's Eq. 8).

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
        num_input_frames: T (default 4 for prediction, 1 for reconstruction,
            as MNAD).
        task: "prediction" (default) or "reconstruction".
        base_filters: width of the first stage; stages use 1, 2, 4, 8 times
            it. MNAD uses 64; the default 16 trains quickly on CPUs.
        memory_size: number of memory items (default 10, as MNAD) or None
            for a plain autoencoder.
        compactness_weight, separateness_weight: loss weights of the memory
            module (default 0.1 each, as MNAD).
        block: "ssmctb", "sspcab" or None (default, the baseline).
        block_position: "late" (default), "middle", "early", or a list.
        block_kwargs: dict of arguments for the block (e.g. `{"dilation": 4}`
            at "early", the paper's best for that stage).
        name: model name.

    Example:

    >>> import numpy as np
    >>> model = FrameAutoencoder((32, 32, 4), base_filters=8, block="ssmctb")
    >>> model.compile(optimizer="adam")
    >>> clips = np.random.uniform(-1, 1, (4, 32, 32, 4)).astype("float32")
    >>> targets = np.random.uniform(-1, 1, (4, 32, 32, 1)).astype("float32")
    >>> _ = model.fit(clips, targets, epochs=1, verbose=0)
    >>> scores = model.score(clips, targets)
    >>> scores["psnr"].shape, scores["error_map"].shape
    ((4,), (4, 32, 32))

    Reference:
        Park, Noh, Ham, "Learning Memory-guided Normality for Anomaly
        Detection", CVPR 2020; Madan, Ristea et al., TPAMI 2024, Sec. 4.3.
    """

    def __init__(
        self,
        input_shape,
        num_input_frames=None,
        task="prediction",
        base_filters=16,
        memory_size=10,
        compactness_weight=0.1,
        separateness_weight=0.1,
        block=None,
        block_position="late",
        block_kwargs=None,
        **kwargs,
    ):
        if task not in TASKS:
            raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")
        if num_input_frames is None:
            num_input_frames = 4 if task == "prediction" else 1
        validate_positive_int("num_input_frames", num_input_frames)
        validate_positive_int("base_filters", base_filters)
        shape = validate_image_input_shape(input_shape, 2, 8, "(height, width, T * channels)")
        channels = split_frames(shape, num_input_frames)
        placement = BlockPlacement(block, block_position, block_kwargs)
        memory = None
        if memory_size is not None:
            memory = Memory(memory_size, compactness_weight, separateness_weight, name="memory")

        b = base_filters
        inputs = keras.Input(shape, name="frames")
        x = inputs
        skips = []
        for stage, filters in enumerate((b, 2 * b, 4 * b), start=1):
            x = conv_unit(x, filters, f"enc{stage}_unit1")
            x = conv_unit(x, filters, f"enc{stage}_unit2")
            skips.append(x)
            x = max_pool(x, 2, f"enc{stage}_pool")
        x = conv_unit(x, 8 * b, "enc4_unit1")
        x = conv_layer(2, 8 * b, 3, "enc4_output_conv")(x)
        if memory is not None:
            x = memory(x)

        with_skips = task == "prediction"
        x = conv_unit(x, 8 * b, "dec1_unit1")
        x = placement.site("early", x, "dec1_unit2", lambda t: conv_unit(t, 8 * b, "dec1_unit2"))
        for stage, filters in ((2, 4 * b), (3, 2 * b), (4, b)):
            up_filters = filters if with_skips else 2 * filters
            x = keras.layers.Conv2DTranspose(up_filters, 3, strides=2, padding="same", name=f"dec{stage}_up_conv")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"dec{stage}_up_bn")(x)
            x = keras.layers.ReLU(name=f"dec{stage}_up_relu")(x)
            if with_skips:
                x = keras.layers.Concatenate(name=f"dec{stage}_skip")([skips[4 - stage], x])
            x = conv_unit(x, filters, f"dec{stage}_unit1")
            position = {3: "middle", 4: "late"}.get(stage)
            unit = lambda t, f=filters, s=stage: conv_unit(t, f, f"dec{s}_unit2")
            x = placement.site(position, x, f"dec{stage}_unit2", unit) if position else unit(x)
        x = conv_layer(2, channels, 3, "output_conv")(x)
        outputs = keras.layers.Activation("tanh", dtype="float32", name="output_tanh")(x)

        target_frames = num_input_frames + 1 if task == "prediction" else num_input_frames
        super().__init__(
            inputs=inputs,
            outputs=outputs,
            placement=placement,
            value_range=(-1.0, 1.0),
            serving_input_shape=shape[:-1] + (target_frames * channels,),
            config={
                "input_shape": list(shape),
                "num_input_frames": num_input_frames,
                "task": task,
                "base_filters": base_filters,
                "memory_size": memory_size,
                "compactness_weight": compactness_weight,
                "separateness_weight": separateness_weight,
                "block": block,
                "block_position": block_position if isinstance(block_position, str) else list(block_position),
                "block_kwargs": block_kwargs,
            },
            **kwargs,
        )
        self.num_input_frames = num_input_frames
        self.channels = channels
        self.task = task
        self.base_filters = base_filters
        self.memory_size = memory_size

    def default_loss(self):
        return keras.losses.MeanSquaredError(name="intensity_loss")
