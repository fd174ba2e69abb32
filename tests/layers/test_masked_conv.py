import itertools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_ssmctb import MaskedConv2D, MaskedConv3D
from tests.layer_checks import run_layer_test

CLASSES = {2: MaskedConv2D, 3: MaskedConv3D}


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def full_masked_kernel_numpy(compact, kernel_size, dilation, masked_size, rank):
    """The k x k (x k) kernel of SPEC section 2, built from the compact weights."""
    gap = 2 * dilation + masked_size
    kernel = compact
    for axis in range(rank):
        before, after = np.split(kernel, 2, axis=axis)
        zeros_shape = list(kernel.shape)
        zeros_shape[axis] = gap
        kernel = np.concatenate([before, np.zeros(zeros_shape, kernel.dtype), after], axis)
    return kernel


def reference_conv_numpy(x, full_kernel, pad_before, pad_after, rank):
    """Direct correlation, channels_last, no bias, no activation."""
    pad = [(0, 0)] + [(pad_before, pad_after)] * rank + [(0, 0)]
    padded = np.pad(x.astype(np.float64), pad)
    spatial = x.shape[1:-1]
    out = np.zeros(x.shape[:-1] + (full_kernel.shape[-1],))
    for tap in itertools.product(*[range(s) for s in full_kernel.shape[:rank]]):
        w = full_kernel[tap]
        if not np.any(w):
            continue
        window = padded[(slice(None),) + tuple(slice(t, t + n) for t, n in zip(tap, spatial))]
        out += window @ w
    return out


@pytest.mark.parametrize(
    "rank,kwargs",
    [
        (2, {}),
        (2, {"kernel_size": 2, "dilation": 0, "masked_size": 2, "filters": 5}),
        (3, {}),
        (3, {"kernel_size": 2, "dilation": 1, "masked_size": 3}),
    ],
)
def test_standard_layer_checks(rank, kwargs, tmp_path):
    shape = (2,) + (6,) * rank + (4,)
    expected = shape[:-1] + (kwargs.get("filters", 4),)
    run_layer_test(CLASSES[rank], kwargs, shape, expected, tmp_path=tmp_path)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("kernel_size", [1, 2, 3])
@pytest.mark.parametrize("masked_size", [1, 2, 3])
def test_matches_direct_masked_full_kernel_reference(rank, kernel_size, masked_size):
    dilation = 1 if kernel_size != 2 else 0
    layer = CLASSES[rank](
        kernel_size=kernel_size,
        dilation=dilation,
        masked_size=masked_size,
        filters=3,
        activation=None,
        bias_initializer="random_normal",
    )
    x = np.random.default_rng(1).normal(size=(2,) + (7,) * rank + (2,)).astype("float32")
    y = to_numpy(layer(x))
    full = full_masked_kernel_numpy(to_numpy(layer.kernel), kernel_size, dilation, masked_size, rank)
    assert full.shape[:rank] == (2 * kernel_size + 2 * dilation + masked_size,) * rank
    np.testing.assert_allclose(to_numpy(layer.masked_kernel()), full)
    before, after = layer.padding
    expected = reference_conv_numpy(x, full, before, after, rank) + to_numpy(layer.bias)
    np.testing.assert_allclose(y, expected, atol=1e-4)


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("masked_size", [1, 2, 3])
def test_fast_path_equals_general_path(rank, masked_size):
    layer = CLASSES[rank](kernel_size=1, dilation=2, masked_size=masked_size, activation=None, use_bias=False)
    x = np.random.default_rng(2).normal(size=(2,) + (6,) * rank + (3,)).astype("float32")
    fast = to_numpy(layer(x))
    general = to_numpy(layer._call_general(layer._pad(keras.ops.convert_to_tensor(x))))
    np.testing.assert_allclose(fast, general, atol=1e-5)


@pytest.mark.parametrize("rank", [2, 3])
def test_corner_blocks_sit_where_the_spec_says(rank):
    # m = 1: for output position a, the "before" block covers a-d-k' .. a-d-1
    # and the "after" block a+d+1 .. a+d+k' along every axis. With an all-ones
    # kernel, an impulse at c reaches exactly the outputs a with c in a corner.
    kernel_size, dilation, size = 2, 1, 13
    layer = CLASSES[rank](
        kernel_size=kernel_size, dilation=dilation, filters=1, activation=None,
        use_bias=False, kernel_initializer="ones",
    )
    x = np.zeros((1,) + (size,) * rank + (1,), "float32")
    centre = (size // 2,) * rank
    x[(0,) + centre + (0,)] = 1.0
    y = to_numpy(layer(x))[0, ..., 0]
    offsets = [o for o in range(-size, size + 1)
               if dilation + 1 <= abs(o) <= dilation + kernel_size]
    expected = np.zeros_like(y)
    for shift in itertools.product(offsets, repeat=rank):
        # The impulse at c is in a's corner when c - a = shift.
        position = tuple(c - s for c, s in zip(centre, shift))
        expected[position] = 1.0
    np.testing.assert_array_equal(y, expected)


@settings(max_examples=12, deadline=None)
@given(
    rank=st.sampled_from([2, 3]),
    kernel_size=st.integers(1, 2),
    dilation=st.integers(0, 2),
    masked_size=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_output_ignores_the_masked_centre(rank, kernel_size, dilation, masked_size, seed):
    rng = np.random.default_rng(seed)
    size = 8
    layer = CLASSES[rank](
        kernel_size=kernel_size, dilation=dilation, masked_size=masked_size,
        activation=None, bias_initializer="random_normal",
    )
    x = rng.normal(size=(1,) + (size,) * rank + (2,)).astype("float32")
    y = to_numpy(layer(x))
    position = tuple(rng.integers(0, size, rank))
    start = [p - (masked_size - 1) // 2 for p in position]
    region = tuple(slice(max(s, 0), s + masked_size) for s in start)
    changed = x.copy()
    changed[(0,) + region] += rng.normal(size=changed[(0,) + region].shape) * 10
    y_changed = to_numpy(layer(changed))
    np.testing.assert_allclose(y_changed[(0,) + position], y[(0,) + position], atol=1e-4)
    # Sanity: a visible tap does change the output there.
    before = layer.padding[0]
    visible = tuple(p - before for p in position)
    if all(0 <= v < size for v in visible):
        poked = x.copy()
        poked[(0,) + visible] += 10.0
        assert not np.allclose(to_numpy(layer(poked))[(0,) + position], y[(0,) + position])


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("kernel_size", [1, 2])
def test_channels_first_equals_channels_last_transposed(rank, kernel_size):
    x = np.random.default_rng(3).normal(size=(2,) + (6,) * rank + (3,)).astype("float32")
    last = CLASSES[rank](kernel_size=kernel_size, data_format="channels_last")
    first = CLASSES[rank](kernel_size=kernel_size, data_format="channels_first")
    y_last = last(x)
    x_first = np.moveaxis(x, -1, 1)
    first.build(x_first.shape)
    first.set_weights(last.get_weights())
    y_first = to_numpy(first(x_first))
    np.testing.assert_allclose(np.moveaxis(y_first, 1, -1), to_numpy(y_last), atol=1e-5)


def test_weights_have_one_canonical_layout():
    layer = MaskedConv2D(kernel_size=3, filters=5)
    layer.build((None, 16, 16, 4))
    assert tuple(layer.kernel.shape) == (6, 6, 4, 5)
    layer3 = MaskedConv3D(kernel_size=1)
    layer3.build((None, 4, 8, 8, 6))
    assert tuple(layer3.kernel.shape) == (2, 2, 2, 6, 6)


def test_nan_inputs_propagate():
    x = np.ones((1, 8, 8, 2), "float32")
    x[0, 4, 4, 0] = np.nan
    y = to_numpy(MaskedConv2D(activation=None)(x))
    assert np.isnan(y).any()
    # Only the outputs whose corners see the NaN are NaN; the centre is masked.
    assert not np.isnan(y[0, 4, 4]).any()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": 1.5}, "kernel_size"),
        ({"dilation": -1}, "dilation"),
        ({"masked_size": 0}, "masked_size"),
        ({"masked_size": 4}, "masked_size"),
        ({"filters": 0}, "filters"),
        ({"data_format": "NHWC"}, "data_format"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**kwargs)


def test_wrong_rank_and_unknown_channels_raise():
    with pytest.raises(ValueError, match="rank 4"):
        MaskedConv2D().build((2, 8, 8, 8, 3))
    with pytest.raises(ValueError, match="rank 5"):
        MaskedConv3D().build((2, 8, 8, 3))
    with pytest.raises(ValueError, match="channel"):
        MaskedConv2D().build((2, 8, 8, None))
