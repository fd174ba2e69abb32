"""The standard checks every layer of the library passes (like keras-hub's run_layer_test).

Keras' own `testing.TestCase.run_layer_test` is private API, so the checks a
user relies on are written here: config round trip, symbolic and eager call,
one `fit` step, `.keras` save/load with identical outputs, and mixed precision.
"""

import keras
import numpy as np


def _first(outputs):
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def _shapes(outputs):
    if isinstance(outputs, (tuple, list)):
        return tuple(tuple(o.shape) for o in outputs)
    return tuple(outputs.shape)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape=None,
    expected_num_losses=0,
    tmp_path=None,
    run_mixed_precision=True,
    atol=1e-5,
):
    """Run the standard layer checks.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_shape: full input shape including the batch size.
        expected_output_shape: shape (or tuple of shapes) of the output;
            defaults to `input_shape`.
        expected_num_losses: how many losses one call registers.
        tmp_path: folder for the `.keras` file (pytest's `tmp_path`).
        run_mixed_precision: also build and call under "mixed_bfloat16".
    """
    if expected_output_shape is None:
        expected_output_shape = tuple(input_shape)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=input_shape).astype("float32")

    # Config round trip.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config

    # Symbolic call.
    inputs = keras.Input(tuple(input_shape[1:]), batch_size=input_shape[0])
    symbolic = layer_cls(**init_kwargs)(inputs)
    assert _shapes(symbolic) == _shapes_of(expected_output_shape)

    # Eager call, losses registered by the call.
    layer = layer_cls(**init_kwargs)
    outputs = layer(x)
    assert _shapes(outputs) == _shapes_of(expected_output_shape)
    assert len(layer.losses) == expected_num_losses
    for value in layer.losses:
        assert np.isfinite(keras.ops.convert_to_numpy(value))
    for output in outputs if isinstance(outputs, (tuple, list)) else [outputs]:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(output)))

    # One fit step in a functional model; weights move and nothing is NaN.
    inputs = keras.Input(tuple(input_shape[1:]))
    model = keras.Model(inputs, _first(layer_cls(**init_kwargs)(inputs)))
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    if expected_num_losses:
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x, epochs=1, batch_size=input_shape[0], verbose=0)
    else:
        target = rng.uniform(size=model.output.shape[1:])[None].repeat(input_shape[0], 0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        history = model.fit(x, target, epochs=1, batch_size=input_shape[0], verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.allclose(b, a) for b, a in zip(before, after))

    # .keras save and load: identical outputs.
    if tmp_path is not None:
        path = tmp_path / "layer_model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(x)),
            keras.ops.convert_to_numpy(model(x)),
            atol=atol,
        )

    # Mixed precision: computes in bfloat16, keeps float32 weights and loss.
    if run_mixed_precision:
        layer = layer_cls(**init_kwargs, dtype="mixed_bfloat16")
        outputs = layer(x)
        assert keras.backend.standardize_dtype(_first(outputs).dtype) == "bfloat16"
        for weight in layer.weights:
            assert keras.backend.standardize_dtype(weight.dtype) == "float32"
        for value in layer.losses:
            assert keras.backend.standardize_dtype(value.dtype) == "float32"
            assert np.isfinite(keras.ops.convert_to_numpy(value))
    return layer


def _shapes_of(expected):
    if expected and isinstance(expected[0], (tuple, list)):
        return tuple(tuple(s) for s in expected)
    return tuple(expected)
