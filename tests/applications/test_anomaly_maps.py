import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_ssmctb.applications import anomaly_maps
from keras_ssmctb.scoring import psnr


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("shape,window", [((2, 12, 10), 5), ((1, 9, 8), 4), ((2, 6, 7, 5), 3), ((1, 8, 8), 21)])
def test_uniform_smooth_is_a_zero_padded_mean_filter(shape, window):
    maps = np.random.default_rng(0).uniform(size=shape).astype("float32")
    expected = ndimage.uniform_filter(
        maps.astype(np.float64), size=(1,) + (window,) * (len(shape) - 1), mode="constant"
    )
    if window % 2 == 0:
        # scipy centres an even window one step later than "same" padding does.
        expected = ndimage.uniform_filter(
            maps.astype(np.float64), size=(1,) + (window,) * (len(shape) - 1), mode="constant",
            origin=(0,) + (-1,) * (len(shape) - 1),
        )
    np.testing.assert_allclose(to_numpy(anomaly_maps.uniform_smooth(maps, window)), expected, rtol=1e-4, atol=1e-6)


def test_block_error_map_is_channel_mean_squared_error_upsampled():
    rng = np.random.default_rng(1)
    block_in = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    block_out = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    maps = to_numpy(anomaly_maps.block_error_map(block_in, block_out, (16, 16)))
    coarse = ((block_out - block_in) ** 2).mean(-1)
    np.testing.assert_allclose(maps, coarse.repeat(4, 1).repeat(4, 2), rtol=1e-5)
    with pytest.raises(ValueError, match="not a divisor"):
        anomaly_maps.block_error_map(block_in, block_out, (10, 16))


def test_psnr_from_mse_matches_scoring_psnr():
    rng = np.random.default_rng(2)
    prediction = rng.uniform(-1, 1, size=(3, 8, 8, 2)).astype("float32")
    target = rng.uniform(-1, 1, size=(3, 8, 8, 2)).astype("float32")
    mse = anomaly_maps.spatial_mean(anomaly_maps.squared_error_map(prediction, target))
    np.testing.assert_allclose(
        to_numpy(anomaly_maps.psnr_from_mse(mse, 2.0)), psnr(prediction, target, max_val=2.0), rtol=1e-5
    )
