import keras
import numpy as np
import pytest

from keras_ssmctb.applications import FrameAutoencoder
from keras_ssmctb.scoring import psnr
from tests.applications.model_checks import SMALL_BLOCK_KWARGS
from tests.applications.model_checks import moving_squares
from tests.applications.model_checks import run_model_test
from tests.applications.model_checks import to_numpy

SIZE = 16  # moving_squares' default side


def build(block, block_kwargs, **kwargs):
    kwargs = {"input_shape": (SIZE, SIZE, 4), "base_filters": 4, "memory_size": 4, **kwargs}
    return FrameAutoencoder(block=block, block_kwargs=block_kwargs, **kwargs)


@pytest.mark.parametrize("block", [None, "sspcab", "ssmctb"])
def test_model_contract(block, tmp_path):
    clips = moving_squares(2, 5)
    model, _ = run_model_test(
        build, block, clips[..., :4], clips[..., 4:], tmp_path,
        output_conv="output_conv", host_losses=2,
    )
    assert model.value_range == (-1.0, 1.0)
    assert model.serving_input_shape == (SIZE, SIZE, 5)


def test_reconstruction_without_memory_trains(tmp_path):
    clips = moving_squares(2, 1)
    run_model_test(
        lambda block, kwargs: build(
            block, kwargs, input_shape=(SIZE, SIZE, 1), task="reconstruction", memory_size=None
        ),
        "ssmctb", clips, clips, tmp_path, output_conv="output_conv", host_losses=0,
    )


def test_default_compile_trains_and_updates_the_memory():
    # compile(optimizer) with the backend's default execution (tf.function /
    # XLA on TensorFlow, jit on JAX): the memory items move during fit only.
    clips = moving_squares(2, 5)
    x, y = clips[..., :4], clips[..., 4:]
    model = build("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    items = model.get_layer("memory").items
    before = to_numpy(items).copy()
    model(x, training=False)
    np.testing.assert_array_equal(to_numpy(items), before)
    model.compile(optimizer="adam")
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    losses = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    after = to_numpy(items)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(np.linalg.norm(after, axis=-1), 1.0, rtol=1e-5)


def test_block_positions_follow_the_decoder_order():
    model = build("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"], block_position=["late", "early", "middle"])
    names = [layer.name for layer in model.layers]
    order = [names.index(f"block_{p}") for p in ("early", "middle", "late")]
    assert order == sorted(order)
    sides = {p: model.get_layer(f"block_{p}").output.shape[1] for p in ("early", "middle", "late")}
    assert sides == {"early": SIZE // 8, "middle": SIZE // 2, "late": SIZE}
    for position in ("early", "middle", "late"):
        assert model.block_sites[position] + "_conv" not in names
    assert model.block_positions == ("early", "middle", "late")


def test_score_matches_psnr_and_block_error():
    clips = moving_squares(4, 5)
    model = build("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    x, y = clips[..., :4], clips[..., 4:]
    scores = model.score(x, y, batch_size=2)
    assert {k: v.shape for k, v in scores.items()} == {
        "psnr": (4,), "error_map": (4, SIZE, SIZE), "anomaly_map": (4, SIZE, SIZE), "anomaly_score": (4,),
    }
    prediction = to_numpy(model(x, training=False))
    np.testing.assert_allclose(scores["psnr"], psnr(prediction, y, max_val=2.0), rtol=1e-4)
    np.testing.assert_allclose(scores["error_map"], ((prediction - y) ** 2).mean(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(scores["anomaly_score"], -scores["psnr"], rtol=1e-5)
    np.testing.assert_array_equal(scores["anomaly_map"], scores["error_map"])
    assert np.all((scores["error_map"] >= 0) & (scores["error_map"] <= 4.0))

    # The serving clip (T frames + target) scores the same as (x, y).
    np.testing.assert_allclose(model.score(clips, batch_size=2)["psnr"], scores["psnr"], rtol=1e-5)
    served = model.serving_outputs(clips)
    assert sorted(served) == ["anomaly_map", "anomaly_score", "prediction"]
    np.testing.assert_allclose(to_numpy(served["anomaly_score"]), scores["anomaly_score"], rtol=1e-4)
    np.testing.assert_allclose(to_numpy(served["prediction"]), prediction, rtol=1e-4, atol=1e-6)

    # use_block_error adds the block's own squared error (Sec. 3.1).
    with_block = model.score(x, y, batch_size=2, use_block_error=True, block_error_weight=0.5)
    block = model.get_layer("block_late")
    probe = keras.Model(model.input, [block.input, block.output])
    block_in, block_out = (to_numpy(t) for t in probe(x, training=False))
    expected = 0.5 * ((block_out - block_in) ** 2).mean(-1)
    np.testing.assert_allclose(with_block["anomaly_map"] - scores["error_map"], expected, rtol=1e-3, atol=1e-6)
    assert np.all(with_block["anomaly_score"] >= scores["anomaly_score"])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_shape": (60, 64, 4)}, "multiples of 8.*64, 64"),
        ({"input_shape": (32, 32, 5)}, "multiple of 4"),
        ({"input_shape": (32, 32, 6), "num_input_frames": 4}, "num_input_frames"),
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"input_shape": (None, 32, 4)}, "input_shape"),
        ({"task": "denoising"}, "task"),
        ({"block": "ssmtcb"}, "block.*ssmctb"),
        ({"block": "ssmctb", "block_position": "top"}, "block_position"),
        ({"block": "ssmctb", "block_position": "bottleneck"}, "block_position"),
        ({"block": "ssmctb", "block_position": ["late", "late"]}, "twice"),
        ({"block": "ssmctb", "block_kwargs": {"output_error": True}}, "output_error"),
        ({"block": "sspcab"}, "reduction_ratio"),
        ({"memory_size": 1}, "memory_size"),
        ({"base_filters": 0}, "base_filters"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"input_shape": (SIZE, SIZE, 4), "base_filters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        FrameAutoencoder(**kwargs)


def test_bad_score_inputs_raise():
    model = build(None, None)
    clips = moving_squares(1, 5)
    with pytest.raises(ValueError, match="target frame"):
        model.score(clips[..., :4])
    with pytest.raises(ValueError, match="block=None"):
        model.score(clips, use_block_error=True)
    with pytest.raises(ValueError, match="same number of samples"):
        model.score(clips[..., :4], np.concatenate([clips[..., 4:]] * 2))
