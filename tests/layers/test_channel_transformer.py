import keras
import numpy as np
import pytest

from keras_ssmctb import ChannelTransformer, SpatialTransformer, TransformerEncoder
from tests.layer_checks import run_layer_test

SMALL = {"token_dim": 8, "num_heads": 2}


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "layer_cls,kwargs,shape",
    [
        (ChannelTransformer, SMALL, (2, 6, 6, 4)),
        (ChannelTransformer, {**SMALL, "pool_size": 2, "num_blocks": 1}, (2, 6, 6, 4)),
        (ChannelTransformer, SMALL, (2, 4, 6, 6, 4)),
        (SpatialTransformer, SMALL, (2, 5, 5, 4)),
        (TransformerEncoder, SMALL, (2, 7, 8)),
    ],
)
def test_standard_layer_checks(layer_cls, kwargs, shape, tmp_path):
    run_layer_test(layer_cls, kwargs, shape, tmp_path=tmp_path)


def test_channel_weights_follow_equations_1_to_6():
    # Eq. 6: X_hat = Z * sigmoid(mean_dt(Transformer(Dense(pool(Z)) + E))).
    layer = ChannelTransformer(**SMALL)
    z = np.random.default_rng(0).uniform(0.5, 1.5, size=(2, 5, 5, 3)).astype("float32")
    out = to_numpy(layer(z))
    ratio = out / z
    # One weight per sample and channel, constant over space, in (0, 1).
    np.testing.assert_allclose(ratio, ratio[:, :1, :1, :] * np.ones_like(ratio), rtol=1e-4)
    assert np.all((ratio > 0) & (ratio < 1))
    tokens = z.mean(axis=(1, 2))[..., None]  # (B, C, n=1)
    tokens = to_numpy(layer.projection(tokens)) + to_numpy(layer.position_embedding)
    encoded = to_numpy(layer.encoder(tokens))
    expected = 1.0 / (1.0 + np.exp(-encoded.mean(axis=-1)))
    np.testing.assert_allclose(ratio[:, 0, 0, :], expected, rtol=1e-4)


def test_pool_size_makes_n_values_per_token():
    layer = ChannelTransformer(token_dim=8, num_heads=2, pool_size=(2, 3))
    layer(np.ones((1, 7, 9, 4), "float32"))  # 7 and 9 are not multiples: adaptive.
    assert tuple(layer.projection.kernel.shape) == (6, 8)
    assert tuple(layer.position_embedding.shape) == (4, 8)


def test_spatial_weights_are_per_position():
    layer = SpatialTransformer(**SMALL)
    z = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 4, 5, 3)).astype("float32")
    ratio = to_numpy(layer(z)) / z
    np.testing.assert_allclose(ratio, ratio[..., :1] * np.ones_like(ratio), rtol=1e-4)
    assert tuple(layer.position_embedding.shape) == (20, 8)


@pytest.mark.parametrize("layer_cls", [ChannelTransformer, SpatialTransformer])
def test_channels_first_equals_channels_last_transposed(layer_cls):
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 3)).astype("float32")
    last = layer_cls(**SMALL)
    y_last = to_numpy(last(x))
    first = layer_cls(**SMALL, data_format="channels_first")
    first.build((2, 3, 4, 5))
    first.set_weights(last.get_weights())
    y_first = to_numpy(first(np.moveaxis(x, -1, 1)))
    np.testing.assert_allclose(np.moveaxis(y_first, 1, -1), y_last, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"token_dim": 10, "num_heads": 4}, "num_heads.*token_dim"),
        ({"token_dim": 0}, "token_dim"),
        ({"num_blocks": 0}, "num_blocks"),
        ({"pool_size": 0}, "pool_size"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChannelTransformer(**kwargs)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="rank 4"):
        ChannelTransformer(**SMALL).build((2, 8, 3))
    with pytest.raises(ValueError, match="pool_size"):
        ChannelTransformer(**SMALL, pool_size=(2, 2, 2)).build((2, 8, 8, 3))
    with pytest.raises(ValueError, match="spatial size"):
        SpatialTransformer(**SMALL).build((2, None, None, 3))
