"""The standard checks every application model passes, for one block choice.

One call builds the model (and, with a block, the baseline it modifies),
trains it briefly through `compile(optimizer=...)` + `fit`, and checks what a
user relies on: the loss falls and stays finite, `model.losses` holds the
block's loss exactly when there is a block, the parameter count differs from
the baseline's only by the block, the block sits at the penultimate conv and
`.keras` save/load gives identical outputs.
"""

import keras
import numpy as np

CONV_TYPES = (keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Conv2DTranspose)
SMALL_BLOCK_KWARGS = {
    None: None,
    "ssmctb": {"token_dim": 16, "num_heads": 2},
    "sspcab": {"reduction_ratio": 4},
}


def moving_squares(num_clips, num_frames, size=16, seed=0):
    """Clips of a bright square moving 1 px per frame on a dark floor, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    clips = np.full((num_clips, num_frames, size, size), -0.8, np.float32)
    for clip in clips:
        row, col = rng.integers(1, size - 5 - num_frames, size=2)
        for t, frame in enumerate(clip):
            frame[row : row + 4, col + t : col + t + 4] = 0.8
    return np.moveaxis(clips, 1, -1)  # (N, H, W, frames), oldest first


def striped_textures(num_images, shape, seed=0):
    """Normal images for DRAEM: random-phase stripes plus grain, in [0, 1]."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.arange(s) for s in shape[:-1]], indexing="ij")
    images = []
    for _ in range(num_images):
        phase = rng.uniform(0, 2 * np.pi)
        stripes = 0.5 + 0.3 * np.sin(2 * np.pi * sum(grid) / 8.0 + phase)
        grain = rng.normal(scale=0.03, size=shape[:-1])
        images.append(np.repeat((stripes + grain)[..., None], shape[-1], axis=-1))
    return np.clip(np.stack(images), 0.0, 1.0).astype(np.float32)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def outputs_numpy(model, x):
    outputs = model(x, training=False)
    if isinstance(outputs, (list, tuple)):
        return [to_numpy(o) for o in outputs]
    return [to_numpy(outputs)]


def params_with_prefix(model, prefix):
    return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix + "_"))


def conv_layers_after(model, layer_name, exclude_prefixes=()):
    """Names of the conv layers that follow `layer_name` in the model's layer order."""
    names = [layer.name for layer in model.layers]
    start = names.index(layer_name)
    return [
        layer.name
        for layer in model.layers[start + 1 :]
        if isinstance(layer, CONV_TYPES) and not layer.name.startswith(tuple(exclude_prefixes))
    ]


def run_model_test(
    build,
    block,
    x,
    y,
    tmp_path,
    output_conv,
    host_losses=0,
    epochs=4,
    learning_rate=1e-3,
    exclude_prefixes=(),
):
    """Build, train and check one model with `block` in {None, "sspcab", "ssmctb"}.

    Args:
        build: function `(block, block_kwargs) -> model`.
        block: the block choice.
        x, y: one training batch (trained on `epochs` times).
        tmp_path: folder for the `.keras` file.
        output_conv: name of the network's last conv (the block at "late"
            must be followed by it alone).
        host_losses: losses the host model registers itself (memory: 2).
        exclude_prefixes: layer-name prefixes of other sub-networks that
            come after the block in layer order (DRAEM's discriminator).

    Returns:
        (the trained model, its outputs on `x` as a list of numpy arrays).
    """
    model = build(block, SMALL_BLOCK_KWARGS[block])

    # Block presence, placement and parameter count.
    blocks = [layer for layer in model.layers if layer.name.startswith("block_")]
    if block is None:
        assert blocks == []
        assert model.block_positions == ()
    else:
        assert [layer.name for layer in blocks] == ["block_late"]
        assert type(blocks[0]).__name__ == block.upper()
        assert conv_layers_after(model, "block_late", exclude_prefixes) == [output_conv]
        baseline = build(None, None)
        replaced = model.block_sites["late"]
        assert params_with_prefix(baseline, replaced) > 0
        assert params_with_prefix(model, replaced) == 0
        assert (
            model.count_params() - blocks[0].count_params()
            == baseline.count_params() - params_with_prefix(baseline, replaced)
        )

    # compile(optimizer) alone sets the losses; a short training lowers them.
    # TensorFlow trains eagerly here: tracing each model variant costs more
    # than the few steps (`test_default_compile_trains` covers tf.function and
    # XLA). JAX keeps its default jit: eager JAX compiles every op.
    run_eagerly = keras.backend.backend() == "tensorflow"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), run_eagerly=run_eagerly)
    history = model.fit(x, y, batch_size=len(x), epochs=epochs, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
    for weight in model.weights:
        assert np.all(np.isfinite(to_numpy(weight))), weight.path

    # model.losses holds the block's loss exactly when there is a block.
    outputs = outputs_numpy(model, x)
    for output in outputs:
        assert np.all(np.isfinite(output))
    assert len(model.losses) == host_losses + (block is not None)
    if block is not None:
        block_loss = to_numpy(blocks[0].losses[0])
        assert block_loss > 0
        assert any(np.isclose(to_numpy(loss), block_loss) for loss in model.losses)

    # .keras round trip: same class, same config, same outputs, still compiled.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for before, after in zip(outputs, outputs_numpy(loaded, x)):
        np.testing.assert_allclose(after, before, atol=1e-5)
    assert loaded.compiled
    return model, outputs
