import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from keras_ssmctb import SSMCTB
from tests.layer_checks import run_layer_test

SMALL = {"token_dim": 8, "num_heads": 2}


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def smooth_images(shape, seed=0):
    """Low-frequency images a masked conv can learn to fill in."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(size=(shape[0],) + tuple(max(s // 4, 1) for s in shape[1:-1]) + (shape[-1],))
    for axis in range(1, len(shape) - 1):
        coarse = np.repeat(coarse, 4, axis=axis)
    return coarse[tuple(slice(0, s) for s in shape)].astype("float32")


@pytest.mark.parametrize(
    "kwargs,shape",
    [
        ({}, (2, 8, 8, 8)),
        ({"kernel_size": 2, "dilation": 0, "masked_size": 2, "loss": "mse"}, (2, 8, 8, 8)),
        ({"attention": "spatial"}, (2, 6, 6, 4)),
        ({"attention": "channel_spatial", "loss": "ssim"}, (2, 8, 8, 4)),
        ({"attention": None, "loss": "mae"}, (2, 6, 6, 4)),
        ({"conv": "dilated", "dilation": 2}, (2, 8, 8, 4)),
        ({"pool_size": 2}, (2, 4, 6, 6, 4)),
        ({"kernel_size": 2}, (2, 4, 6, 6, 4)),
    ],
)
def test_standard_layer_checks(kwargs, shape, tmp_path):
    run_layer_test(
        SSMCTB, {**SMALL, **kwargs}, shape, expected_num_losses=1, tmp_path=tmp_path,
        # Mixed precision once per rank keeps the JAX run short (eager bf16 ops compile one by one).
        run_mixed_precision=kwargs in ({}, {"kernel_size": 2}),
    )


@pytest.mark.parametrize("rank", [2, 3])
def test_output_error_returns_reconstruction_and_error_map(rank, tmp_path):
    shape = (2,) + (6,) * rank + (4,)
    run_layer_test(
        SSMCTB, {**SMALL, "output_error": True}, shape,
        expected_output_shape=(shape, shape[:-1] + (1,)),
        expected_num_losses=1, tmp_path=tmp_path,
    )
    x = np.random.default_rng(0).uniform(size=shape).astype("float32")
    block = SSMCTB(**SMALL, output_error=True)
    reconstruction, error = (to_numpy(t) for t in block(x))
    expected = np.sqrt(((reconstruction - x) ** 2).sum(-1, keepdims=True))
    np.testing.assert_allclose(error, expected, rtol=1e-4, atol=1e-6)


def huber_numpy(a, b, delta):
    e = np.abs(a.astype(np.float64) - b)
    return np.mean(np.where(e < delta, 0.5 * e**2, delta * (e - 0.5 * delta)))


def ssim_numpy(a, b, window=7, max_val=1.0):
    a, b = a.astype(np.float64), b.astype(np.float64)
    w = min(window, *a.shape[1:-1])

    def mean(t):
        return sliding_window_view(t, (w, w), axis=(1, 2)).mean(axis=(-1, -2))

    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    ma, mb = mean(a), mean(b)
    va, vb, cov = mean(a * a) - ma**2, mean(b * b) - mb**2, mean(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return s.mean()


@pytest.mark.parametrize(
    "loss,by_hand",
    [
        ("huber", lambda r, x: huber_numpy(r, x, 1.0)),
        ("mse", lambda r, x: np.mean((r.astype(np.float64) - x) ** 2)),
        ("mae", lambda r, x: np.mean(np.abs(r.astype(np.float64) - x))),
        ("ssim", lambda r, x: 1.0 - ssim_numpy(r, x)),
    ],
)
def test_registered_loss_is_weight_times_loss(loss, by_hand):
    x = np.random.default_rng(1).normal(scale=2.0, size=(2, 9, 9, 4)).astype("float32")
    block = SSMCTB(**SMALL, loss=loss, loss_weight=0.37)
    reconstruction = to_numpy(block(x))
    assert len(block.losses) == 1
    np.testing.assert_allclose(
        float(to_numpy(block.losses[0])), 0.37 * by_hand(reconstruction, x), rtol=1e-4
    )


def test_huber_delta_changes_the_loss():
    x = np.random.default_rng(2).normal(scale=3.0, size=(2, 6, 6, 4)).astype("float32")
    block = SSMCTB(**SMALL, huber_delta=0.5, loss_weight=1.0)
    reconstruction = to_numpy(block(x))
    np.testing.assert_allclose(
        float(to_numpy(block.losses[0])), huber_numpy(reconstruction, x, 0.5), rtol=1e-4
    )


def test_loss_is_float32_under_mixed_precision():
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 8)).astype("float32")
    block = SSMCTB(**SMALL, dtype="mixed_bfloat16")
    reconstruction = block(x)
    assert keras.backend.standardize_dtype(reconstruction.dtype) == "bfloat16"
    loss = block.losses[0]
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    by_hand = 0.1 * huber_numpy(to_numpy(keras.ops.cast(reconstruction, "float32")), x, 1.0)
    np.testing.assert_allclose(float(to_numpy(loss)), by_hand, rtol=1e-4)


@pytest.mark.parametrize("rank", [2, 3])
def test_model_trained_only_by_the_block_loss_learns(rank):
    shape = (8,) + (8,) * rank + (4,)
    x = smooth_images(shape)
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, SSMCTB(**SMALL)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=15, batch_size=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]


def test_shared_block_registers_a_loss_per_call_and_trains():
    # A shared layer's add_loss under JAX jit is what keras>=3.14 fixed.
    x = smooth_images((4, 8, 8, 4))
    block = SSMCTB(**SMALL)
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, block(block(inputs)))
    model(x)
    assert len(model.losses) == 2
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=3, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("kwargs", [{}, {"attention": "channel_spatial", "kernel_size": 2}])
def test_channels_first_equals_channels_last_transposed(kwargs):
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 4)).astype("float32")
    last = SSMCTB(**SMALL, **kwargs, output_error=True)
    y_last, e_last = (to_numpy(t) for t in last(x))
    first = SSMCTB(**SMALL, **kwargs, output_error=True, data_format="channels_first")
    first.build((2, 4, 6, 6))
    first.set_weights(last.get_weights())
    y_first, e_first = (to_numpy(t) for t in first(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(np.moveaxis(y_first, 1, -1), y_last, atol=1e-5)
    np.testing.assert_allclose(np.moveaxis(e_first, 1, -1), e_last, atol=1e-5)
    np.testing.assert_allclose(to_numpy(first.losses[0]), to_numpy(last.losses[0]), rtol=1e-5)


def test_nan_inputs_propagate():
    x = np.random.default_rng(5).uniform(size=(1, 8, 8, 4)).astype("float32")
    x[0, 2, 2, 1] = np.nan
    block = SSMCTB(**SMALL)
    y = to_numpy(block(x))
    assert np.isnan(y).any()
    assert np.isnan(to_numpy(block.losses[0]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dilation": -1}, "dilation"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"masked_size": 4}, "masked_size"),
        ({"loss": "l2"}, "loss"),
        ({"attention": "temporal"}, "attention"),
        ({"conv": "strided"}, "conv"),
        ({"token_dim": 64, "num_heads": 5}, "num_heads"),
        ({"huber_delta": 0}, "huber_delta"),
        ({"loss_weight": -1}, "loss_weight"),
        ({"conv": "dilated", "masked_size": 2}, "masked_size"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        SSMCTB(**kwargs)
    assert "Received" in str(info.value)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="rank 4"):
        SSMCTB(**SMALL).build((2, 8, 8))
    with pytest.raises(ValueError, match="channel"):
        SSMCTB(**SMALL).build((2, 8, 8, None))
    with pytest.raises(ValueError, match="filters"):
        SSMCTB(**SMALL, filters=3).build((2, 8, 8, 4))
