"""A `.keras` file saved under this backend loads under the other two, same outputs."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_ssmctb import SSPCAB, SSMCTB, ChannelTransformer, MaskedConv2D, MaskedConv3D

LOAD_AND_COMPARE = """
import sys
import keras
import numpy as np
import keras_ssmctb  # registers the layers

for name in sys.argv[1:]:
    model = keras.saving.load_model(name + ".keras")
    x = np.load(name + "_x.npy")
    expected = np.load(name + "_y.npy")
    got = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    print(name, keras.backend.backend(), "ok", float(np.abs(got - expected).max()))
"""


def _save_models(folder):
    rng = np.random.default_rng(0)
    names = []
    inputs = keras.Input((8, 8, 8))
    hidden = MaskedConv2D(kernel_size=2, masked_size=2)(inputs)
    hidden = SSMCTB(token_dim=8, num_heads=2, attention="channel_spatial")(hidden)
    outputs = SSPCAB(reduction_ratio=4)(hidden)
    inputs3 = keras.Input((4, 6, 6, 4))
    hidden3 = MaskedConv3D(dilation=0)(inputs3)
    hidden3 = ChannelTransformer(token_dim=8, num_heads=2, pool_size=2)(hidden3)
    outputs3 = SSMCTB(token_dim=8, num_heads=2, kernel_size=2)(hidden3)
    for name, model, shape in [
        ("model2d", keras.Model(inputs, outputs), (2, 8, 8, 8)),
        ("model3d", keras.Model(inputs3, outputs3), (2, 4, 6, 6, 4)),
    ]:
        x = rng.uniform(size=shape).astype("float32")
        path = folder / name
        model.save(str(path) + ".keras")
        np.save(str(path) + "_x.npy", x)
        np.save(str(path) + "_y.npy", keras.ops.convert_to_numpy(model(x)))
        names.append(str(path))
    return names


@pytest.mark.parametrize(
    "other", [b for b in ("tensorflow", "jax", "torch") if b != keras.backend.backend()]
)
def test_saved_here_loads_under_other_backend(other, tmp_path):
    names = _save_models(tmp_path)
    env = dict(os.environ, KERAS_BACKEND=other, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_COMPARE, *names],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(f"{other} ok") == 2
