import keras
import numpy as np
import pytest

from keras_ssmctb import SSPCAB
from tests.layer_checks import run_layer_test


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "kwargs,shape",
    [
        ({}, (2, 8, 8, 16)),
        ({"kernel_size": 2, "dilation": 2, "reduction_ratio": 4}, (2, 8, 8, 8)),
        ({}, (2, 4, 6, 6, 8)),
        ({"output_error": True}, (2, 6, 6, 8)),
    ],
)
def test_standard_layer_checks(kwargs, shape, tmp_path):
    expected = (shape, shape[:-1] + (1,)) if kwargs.get("output_error") else shape
    run_layer_test(SSPCAB, kwargs, shape, expected, expected_num_losses=1, tmp_path=tmp_path)


def test_squeeze_excitation_and_mse_loss():
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(2, 6, 6, 8)).astype("float32")
    block = SSPCAB(loss_weight=0.5)
    reconstruction = to_numpy(block(x))
    # SE: the conv output scaled by one sigmoid weight per sample and channel.
    features = to_numpy(block.conv_layer(x))
    pooled = features.mean(axis=(1, 2))
    weights = to_numpy(block.excite(block.squeeze(pooled)))
    np.testing.assert_allclose(reconstruction, features * weights[:, None, None, :], rtol=1e-5, atol=1e-6)
    assert tuple(block.squeeze.kernel.shape) == (8, 1)
    expected = 0.5 * np.mean((reconstruction.astype(np.float64) - x) ** 2)
    np.testing.assert_allclose(float(to_numpy(block.losses[0])), expected, rtol=1e-4)


def test_trains_by_its_own_loss():
    x = np.random.default_rng(1).uniform(size=(8, 8, 8, 8)).astype("float32")
    x = np.repeat(np.repeat(x[:, ::4, ::4], 4, 1), 4, 2)
    inputs = keras.Input((8, 8, 8))
    model = keras.Model(inputs, SSPCAB()(inputs))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    losses = model.fit(x, epochs=15, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"reduction_ratio": 0}, "reduction_ratio"),
        ({"dilation": -2}, "dilation"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"loss": "cross_entropy"}, "loss"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SSPCAB(**kwargs)


def test_too_few_channels_for_the_reduction_ratio_raises():
    with pytest.raises(ValueError, match="reduction_ratio"):
        SSPCAB(reduction_ratio=8)(np.ones((1, 4, 4, 4), "float32"))
