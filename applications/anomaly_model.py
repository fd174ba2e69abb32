"""What every application shares: config, default losses, scoring, serving.

Each application is a functional `keras.Model` subclass (the keras-hub
backbone pattern): its `__init__` builds the graph and hands inputs and
outputs to `AnomalyModel.__init__`, which keeps the block sites, builds a
second functional view of the same layers that also exposes each block's
input and output (for the block's own error map), and stores the
constructor arguments for `get_config`.
"""

import keras
import numpy as np
from keras import ops

from keras_ssmctb.applications import anomaly_maps


class _Scorer(keras.Model):
    """Runs a model's score tensors through Keras' compiled predict step."""

    def __init__(self, host, use_block_error, block_error_weight):
        super().__init__(name=f"{host.name}_scorer")
        self.host = host
        self.use_block_error = use_block_error
        self.block_error_weight = block_error_weight

    def call(self, inputs):
        tensors = self.host.score_tensors(inputs, self.use_block_error, self.block_error_weight)
        return {name: tensors[name] for name in self.host.score_keys}


class AnomalyModel(keras.Model):
    """Base class of the anomaly-detection applications.

    Subclasses build the functional graph in `__init__`, then call
    `super().__init__(inputs=..., outputs=..., placement=..., config=...)`.
    They implement `default_loss()`, `score_tensors(...)`,
    `serving_outputs(...)` and `serving_batch(x, y)`.

    Attributes set here:
        value_range: (low, high) of the frames/images the model expects.
        block_sites: position -> name prefix of the host layers a block at
            that position replaces (or would replace).
        block_positions: the positions that hold a block (empty without).
        serving_input_shape: shape (without batch) `serving_outputs` takes.
    """

    score_keys = ()
    scores_with_target = False

    def __init__(self, *, inputs, outputs, placement, config, value_range, serving_input_shape, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        placement.check_complete()
        self._anomaly_config = dict(config)
        self.value_range = tuple(float(v) for v in value_range)
        self.serving_input_shape = tuple(serving_input_shape)
        self.block_sites = dict(placement.sites)
        self.block_positions = tuple(sorted(placement.block_io, key=list(placement.sites).index))
        outputs_list = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        block_tensors = [t for p in self.block_positions for t in placement.block_io[p]]
        # A second functional view over the same layers (same weights) that
        # also returns each block's input and output. It is kept out of Keras'
        # attribute tracking so `model.layers`, saving and summaries see only
        # the host graph.
        object.__setattr__(self, "_scoring_graph", keras.Model(inputs, outputs_list + block_tensors))
        object.__setattr__(self, "_num_outputs", len(outputs_list))
        object.__setattr__(self, "_scorers", {})

    # Config and saving.

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(self._anomaly_config)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def block_layers(self):
        """Position -> the inserted block layer."""
        return {p: self.get_layer(f"block_{p}") for p in self.block_positions}

    # Training.

    def default_loss(self):
        raise NotImplementedError

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """Configure training; with `loss=None` the model's own losses are used.

        The self-supervised block's loss (and the memory module's) are added
        by the layers themselves, so `model.compile(optimizer="adam")`
        followed by `model.fit(...)` trains everything. Pass `loss=` to
        replace the host model's default loss; other arguments go to
        `keras.Model.compile`.
        """
        if loss is None:
            loss = self.default_loss()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # Scoring and serving.

    def run_with_blocks(self, inputs):
        """Call the model (inference mode) and return (outputs, block_io).

        `block_io` maps each block position to (block input, block output).
        """
        results = self._scoring_graph(inputs, training=False)
        outputs = results[: self._num_outputs]
        outputs = outputs[0] if self._num_outputs == 1 else list(outputs)
        block_io = {}
        for i, position in enumerate(self.block_positions):
            start = self._num_outputs + 2 * i
            block_io[position] = (results[start], results[start + 1])
        return outputs, block_io

    def block_error(self, block_io, spatial_shape):
        """Sum of the blocks' error maps, each at the input's spatial size."""
        if not block_io:
            raise ValueError(
                "`use_block_error=True` needs a self-supervised block; this model "
                "was built with block=None."
            )
        total = 0.0
        for block_input, block_output in block_io.values():
            total = total + anomaly_maps.block_error_map(block_input, block_output, spatial_shape)
        return total

    def score_tensors(self, inputs, use_block_error=False, block_error_weight=1.0):
        raise NotImplementedError

    def serving_batch(self, x, y):
        raise NotImplementedError

    def score(self, x, y=None, batch_size=32, use_block_error=False, block_error_weight=1.0):
        """Anomaly maps and scores as numpy arrays (see the subclass docstring).

        Args:
            x: numpy array of inputs, or a `keras.utils.PyDataset` yielding
                batches (`x` or `(x, y)` as in training).
            y: targets matching `x` when the model needs them (video
                prediction: the frame to predict); None otherwise.
            batch_size: samples per forward pass when `x` is an array.
            use_block_error: add the self-supervised block's own error map
                (paper, Sec. 3.1) to the host model's map; see the subclass.
            block_error_weight: weight of the block's error map.

        Returns:
            dict of numpy arrays, one entry per name in `score_keys`.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}")
        if use_block_error and not self.block_positions:
            raise ValueError(
                "`use_block_error=True` needs a self-supervised block; this model "
                "was built with block=None."
            )
        key = (bool(use_block_error), float(block_error_weight))
        if key not in self._scorers:
            self._scorers[key] = _Scorer(self, *key)
        scorer = self._scorers[key]
        results = {name: [] for name in self.score_keys}
        for batch in self._serving_batches(x, y, batch_size):
            outputs = scorer.predict_on_batch(batch)
            for name in self.score_keys:
                results[name].append(np.asarray(outputs[name]))
        if not results[self.score_keys[0]]:
            raise ValueError("`x` holds no samples to score.")
        return {name: np.concatenate(values) for name, values in results.items()}

    def _serving_batches(self, x, y, batch_size):
        if isinstance(x, keras.utils.PyDataset):
            if y is not None:
                raise ValueError("Pass `y=None` with a PyDataset: its batches carry the targets.")
            for index in range(len(x)):
                batch = x[index]
                if not isinstance(batch, (tuple, list)):
                    batch = (batch,)
                # Targets matter only where the scored frame is not in the
                # input (video prediction); otherwise `(x, y)` training batches
                # are scored on `x`.
                target = batch[1] if self.scores_with_target and len(batch) > 1 else None
                yield self.serving_batch(batch[0], target)
            return
        x = np.asarray(x)
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(
                    f"`x` and `y` must hold the same number of samples. Received: "
                    f"{len(x)} and {len(y)}"
                )
        for start in range(0, len(x), batch_size):
            stop = start + batch_size
            yield self.serving_batch(x[start:stop], None if y is None else y[start:stop])

    def serving_outputs(self, inputs, use_block_error=False, block_error_weight=1.0):
        raise NotImplementedError


def validate_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


def validate_image_input_shape(input_shape, rank, factor, layout):
    """Check a static (spatial..., channels) shape whose sides divide by `factor`."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != rank + 1
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(
            f"`input_shape` must be {layout} (no batch axis), all positive ints. "
            f"Received: input_shape={input_shape!r}"
        )
    spatial = shape[:-1]
    if any(s % factor for s in spatial):
        suggestion = ", ".join(str(((s + factor - 1) // factor) * factor) for s in spatial)
        raise ValueError(
            f"The spatial sides of `input_shape` must be multiples of {factor} (the "
            f"network halves them {factor.bit_length() - 1} times), e.g. {factor}, "
            f"{2 * factor}, {4 * factor}. Received: input_shape={shape}; the nearest "
            f"sides that work are ({suggestion})."
        )
    return shape


def split_frames(input_shape, num_input_frames):
    """Channels per frame of a (H, W, T*C) clip, or a ValueError."""
    channels = input_shape[-1]
    if channels % num_input_frames:
        raise ValueError(
            f"`input_shape[-1]` stacks `num_input_frames`={num_input_frames} frames on "
            f"the channel axis, so it must be a multiple of {num_input_frames} "
            f"({num_input_frames} for grayscale, {3 * num_input_frames} for RGB). "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return channels // num_input_frames


class VideoAnomalyModel(AnomalyModel):
    """Scoring shared by the video models (frame prediction or reconstruction).

    `score(x, y)` returns, per scored frame:

    - `psnr` (N,): PSNR in dB of the predicted (or reconstructed) frame
      against the real one, with `max_val` = the width of `value_range`
      (2 for [-1, 1]), as `keras_ssmctb.scoring.psnr` computes it. Frame
      scores for evaluation are 1 - min-max-normalised PSNR per video.
    - `error_map` (N, H, W): squared error averaged over channels.
    - `anomaly_map` (N, H, W): `error_map`, plus `block_error_weight` times
      the blocks' own squared error (mean over the block's channels of
      (X_hat - X)^2, upsampled to H x W) when `use_block_error=True`.
    - `anomaly_score` (N,): minus the PSNR of `anomaly_map`'s mean, i.e.
      `-psnr` without the block error; higher is more anomalous.

    `serving_outputs` takes the clip with the frame to score as its last `C`
    channels: for prediction, T input frames + the target frame
    ((H, W, (T+1)*C), `serving_input_shape`); for reconstruction, the model
    input itself (the target is its last frame). `score` accepts that clip
    as `x`, or the model input as `x` with the target frames as `y`, or a
    `PyDataset` of `(x, y)` batches.
    """

    score_keys = ("psnr", "error_map", "anomaly_map", "anomaly_score")

    @property
    def scores_with_target(self):
        return self.task == "prediction"

    def serving_batch(self, x, y):
        x = np.asarray(x)
        expected = tuple(self.serving_input_shape)
        if self.task == "prediction" and y is not None:
            x = np.concatenate([x, np.asarray(y, dtype=x.dtype)], axis=-1)
        elif self.task == "reconstruction" and y is not None:
            raise ValueError(
                "A reconstruction model scores its own input; pass `y=None`."
            )
        if tuple(x.shape[1:]) != expected:
            hint = (
                " (T input frames followed by the target frame; or pass the target as `y`)"
                if self.task == "prediction"
                else ""
            )
            raise ValueError(
                f"Expected clips of shape (batch,) + {expected}{hint}. Received: {tuple(x.shape)}"
            )
        return x

    def score_tensors(self, inputs, use_block_error=False, block_error_weight=1.0):
        inputs = ops.convert_to_tensor(inputs)
        frame_channels = self.channels * self.num_input_frames
        model_inputs = inputs[..., :frame_channels]
        target = inputs[..., -self.channels :]
        prediction, block_io = self.run_with_blocks(model_inputs)
        error_map = anomaly_maps.squared_error_map(prediction, target)
        max_val = self.value_range[1] - self.value_range[0]
        psnr = anomaly_maps.psnr_from_mse(anomaly_maps.spatial_mean(error_map), max_val)
        anomaly_map = error_map
        if use_block_error:
            anomaly_map = error_map + block_error_weight * self.block_error(block_io, error_map.shape[1:])
        anomaly_score = -anomaly_maps.psnr_from_mse(anomaly_maps.spatial_mean(anomaly_map), max_val)
        return {
            "prediction": prediction,
            "psnr": psnr,
            "error_map": error_map,
            "anomaly_map": anomaly_map,
            "anomaly_score": anomaly_score,
        }

    def serving_outputs(self, inputs, use_block_error=False, block_error_weight=1.0):
        """Traceable outputs for serving (keras.ops only).

        Args:
            inputs: clips of shape (batch,) + `serving_input_shape`.
            use_block_error, block_error_weight: as in `score`.

        Returns:
            dict with `prediction` (the predicted or reconstructed frame),
            `anomaly_map` (batch, H, W) and `anomaly_score` (batch,).
        """
        tensors = self.score_tensors(inputs, use_block_error, block_error_weight)
        return {k: tensors[k] for k in ("prediction", "anomaly_map", "anomaly_score")}
