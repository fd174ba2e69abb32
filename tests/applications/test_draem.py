import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_ssmctb.applications import DRAEM
from keras_ssmctb.applications import DRAEM3D
from keras_ssmctb.datasets.synthetic_anomalies import DraemAnomalyDataset
from tests.applications.model_checks import SMALL_BLOCK_KWARGS
from tests.applications.model_checks import run_model_test
from tests.applications.model_checks import striped_textures
from tests.applications.model_checks import to_numpy

SHAPES = {DRAEM: (32, 32, 1), DRAEM3D: (32, 32, 32, 1)}


def builder(model_class, **extra):
    def build(block, block_kwargs, **kwargs):
        kwargs = {"base_filters": 4, "discriminator_filters": 4, **extra, **kwargs}
        return model_class(SHAPES[model_class], block=block, block_kwargs=block_kwargs, **kwargs)

    return build


def synthetic_batch(model_class, num_images=2, seed=0):
    """One batch of DRAEM's training data: textures with Perlin anomalies."""
    images = striped_textures(num_images, SHAPES[model_class], seed=seed)
    dataset = DraemAnomalyDataset(images, batch_size=num_images, anomaly_probability=1.0, seed=seed)
    return dataset[0]


@pytest.mark.parametrize("model_class", [DRAEM, DRAEM3D])
@pytest.mark.parametrize("block", [None, "sspcab", "ssmctb"])
def test_model_contract(model_class, block, tmp_path):
    augmented, (clean, mask) = synthetic_batch(model_class)
    assert mask.sum() > 0
    model, (reconstruction, segmentation) = run_model_test(
        builder(model_class), block, augmented, (clean, mask), tmp_path,
        output_conv="rec_output_conv", exclude_prefixes=("disc_",), learning_rate=3e-3,
    )
    assert model.value_range == (0.0, 1.0)
    assert reconstruction.shape == augmented.shape
    assert segmentation.shape == mask.shape[:-1] + (2,)
    np.testing.assert_allclose(segmentation.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("model_class,sides", [
    (DRAEM, {"bottleneck": 2, "early": 4, "middle": 16, "late": 32}),
    (DRAEM3D, {"bottleneck": 2, "early": 4, "middle": 16, "late": 32}),
])
def test_block_positions_follow_the_network_order(model_class, sides):
    positions = ["late", "early", "bottleneck", "middle"]
    model = builder(model_class)("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"], block_position=positions)
    names = [layer.name for layer in model.layers]
    order = [names.index(f"block_{p}") for p in ("bottleneck", "early", "middle", "late")]
    assert order == sorted(order)
    assert order[-1] < names.index("rec_output_conv") < names.index("disc_enc1_unit1_conv")
    for position, side in sides.items():
        block = model.get_layer(f"block_{position}")
        assert tuple(block.output.shape[1:-1]) == (side,) * model.spatial_rank
        assert not any(n.startswith(model.block_sites[position] + "_") for n in names)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the contract tests already train with the default compile on this backend",
)
def test_default_compile_trains():
    augmented, (clean, mask) = synthetic_batch(DRAEM)
    model = builder(DRAEM)("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    losses = model.fit(augmented, (clean, mask), epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_score_is_the_smoothed_segmentation():
    images = striped_textures(4, SHAPES[DRAEM], seed=1)
    model = builder(DRAEM)("ssmctb", SMALL_BLOCK_KWARGS["ssmctb"])
    scores = model.score(images, batch_size=2)
    _, segmentation = (to_numpy(t) for t in model(images, training=False))
    anomaly_map = segmentation[..., 1]
    np.testing.assert_allclose(scores["anomaly_map"], anomaly_map, rtol=1e-5, atol=1e-6)
    assert np.all((scores["anomaly_map"] >= 0) & (scores["anomaly_map"] <= 1))
    smoothed = ndimage.uniform_filter(anomaly_map.astype(np.float64), size=(1, 21, 21), mode="constant")
    np.testing.assert_allclose(scores["image_score"], smoothed.max(axis=(1, 2)), rtol=1e-4)
    np.testing.assert_array_equal(scores["anomaly_score"], scores["image_score"])
    served = model.serving_outputs(images)
    assert sorted(served) == ["anomaly_map", "anomaly_score", "reconstruction"]
    np.testing.assert_allclose(to_numpy(served["anomaly_score"]), scores["image_score"], rtol=1e-5)

    # The block's error enters as (map + w * tanh(E)) / (1 + w), still in [0, 1].
    combined = model.score(images, batch_size=2, use_block_error=True, block_error_weight=2.0)
    block = model.get_layer("block_late")
    probe = keras.Model(model.input, [block.input, block.output])
    block_in, block_out = (to_numpy(t) for t in probe(images, training=False))
    expected = (anomaly_map + 2.0 * np.tanh(((block_out - block_in) ** 2).mean(-1))) / 3.0
    np.testing.assert_allclose(combined["anomaly_map"], expected, rtol=1e-4, atol=1e-6)
    assert np.all((combined["anomaly_map"] >= 0) & (combined["anomaly_map"] <= 1))


def test_score_takes_a_pydataset_and_volumes():
    volumes = striped_textures(2, SHAPES[DRAEM3D], seed=2)
    model = builder(DRAEM3D)(None, None)
    dataset = DraemAnomalyDataset(volumes, batch_size=1, seed=0, shuffle=False)
    scores = model.score(dataset)
    assert scores["anomaly_map"].shape == (2, 32, 32, 32)
    assert scores["image_score"].shape == (2,)
    assert np.all((scores["image_score"] >= 0) & (scores["image_score"] <= 1))


@pytest.mark.parametrize(
    "model_class,kwargs,match",
    [
        (DRAEM, {"input_shape": (48, 48, 3)}, "multiples of 32.*64, 64"),
        (DRAEM, {"input_shape": (32, 32, 32, 1)}, r"\(height, width, channels\)"),
        (DRAEM3D, {"input_shape": (32, 32, 1)}, r"\(depth, height, width, channels\)"),
        (DRAEM3D, {"input_shape": (16, 32, 32, 1)}, "multiples of 32"),
        (DRAEM, {"block": "ssmctb", "block_position": "encoder"}, "bottleneck"),
        (DRAEM, {"smoothing_window": 0}, "smoothing_window"),
        (DRAEM, {"focal_gamma": -1}, "focal_gamma"),
    ],
)
def test_bad_arguments_raise(model_class, kwargs, match):
    kwargs = {"input_shape": SHAPES[model_class], "base_filters": 4, "discriminator_filters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        model_class(**kwargs)


def test_bad_score_inputs_raise():
    model = builder(DRAEM)(None, None)
    images = striped_textures(1, SHAPES[DRAEM])
    with pytest.raises(ValueError, match="images alone"):
        model.score(images, images)
    with pytest.raises(ValueError, match=r"\(batch,\) \+ \(32, 32, 1\)"):
        model.score(images[:, :16])
