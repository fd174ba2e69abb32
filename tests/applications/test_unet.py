import keras
import numpy as np
import pytest

from keras_ssmctb.applications import UNetPredictor
from keras_ssmctb.losses import GradientLoss
from keras_ssmctb.scoring import psnr
from tests.applications.model_checks import SMALL_BLOCK_KWARGS
from tests.applications.model_checks import moving_squares
from tests.applications.model_checks import run_model_test
from tests.applications.model_checks import to_numpy

SIZE = 16


def build(block, block_kwargs, **kwargs):
    kwargs = {"input_shape": (SIZE, SIZE, 4), "base_filters": 4, **kwargs}
    return UNetPredictor(block=block, block_kwargs=block_kwargs, **kwargs)


@pytest.mark.parametrize("block", [None, "sspcab", "ssmctb"])
def test_model_contract(block, tmp_path):
    clips = moving_squares(2, 5)
    model, _ = run_model_test(build, block, clips[..., :4], clips[..., 4:], tmp_path, output_conv="output_conv")
    assert model.value_range == (-1.0, 1.0)


def test_default_loss_is_intensity_plus_gradient():
    clips = moving_squares(2, 5)
    model = build(None, None, gradient_weight=0.5)
    model.compile(optimizer="adam")
    x, y = clips[..., :4], clips[..., 4:]
    prediction = to_numpy(model(x, training=False))
    expected = ((prediction - y) ** 2).mean() + 0.5 * float(to_numpy(GradientLoss()(y, prediction)))
    np.testing.assert_allclose(float(to_numpy(model.loss(y, prediction))), expected, rtol=1e-4)
    # A loss passed to compile replaces the default.
    model.compile(optimizer="adam", loss="mae")
    assert model.loss == "mae"


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the contract tests already train with the default compile on this backend",
)
def test_default_compile_trains():
    clips = moving_squares(2, 5)
    model = build("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    model.compile(optimizer="adam")
    losses = model.fit(clips[..., :4], clips[..., 4:], epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_block_positions_follow_the_decoder_order():
    model = build("sspcab", SMALL_BLOCK_KWARGS["sspcab"], block_position=["early", "middle", "late"])
    names = [layer.name for layer in model.layers]
    order = [names.index(f"block_{p}") for p in ("early", "middle", "late")]
    assert order == sorted(order)
    sides = {p: model.get_layer(f"block_{p}").output.shape[1] for p in ("early", "middle", "late")}
    assert sides == {"early": SIZE // 4, "middle": SIZE // 2, "late": SIZE}
    assert [n for n in names if n.endswith("_unit2_conv") and n.startswith("dec")] == []


def test_score_shapes_and_ranges():
    clips = moving_squares(4, 5)
    model = build("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    scores = model.score(clips, batch_size=2)
    assert {k: v.shape for k, v in scores.items()} == {
        "psnr": (4,), "error_map": (4, SIZE, SIZE), "anomaly_map": (4, SIZE, SIZE), "anomaly_score": (4,),
    }
    prediction = to_numpy(model(clips[..., :4], training=False))
    np.testing.assert_allclose(scores["psnr"], psnr(prediction, clips[..., 4:], max_val=2.0), rtol=1e-4)
    assert np.all((scores["error_map"] >= 0) & (scores["error_map"] <= 4.0))
    combined = model.score(clips, batch_size=2, use_block_error=True)
    assert np.all(combined["anomaly_map"] >= scores["error_map"] - 1e-7)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_shape": (36, 36, 4)}, "multiples of 8.*40, 40"),
        ({"input_shape": (16, 16, 12), "num_input_frames": 5}, "multiple of 5"),
        ({"gradient_weight": -1.0}, "gradient_weight"),
        ({"block": "SSMCTB"}, "block"),
        ({"block": "ssmctb", "block_position": []}, "block_position"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"input_shape": (SIZE, SIZE, 4), "base_filters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        UNetPredictor(**kwargs)
