import keras
import numpy as np
import pytest

from keras_ssmctb.losses import FocalLoss
from keras_ssmctb.losses import GradientLoss
from keras_ssmctb.losses import LossSum
from keras_ssmctb.losses import SSIMLoss
from keras_ssmctb.losses import huber
from keras_ssmctb.losses import ssim
from keras_ssmctb.losses import ssim_map


def to_float(x):
    return float(keras.ops.convert_to_numpy(x))


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


def round_trip(loss):
    return keras.losses.deserialize(keras.losses.serialize(loss))


@pytest.mark.parametrize("delta", [0.3, 1.0])
def test_huber_matches_keras_in_both_regions(delta):
    # Errors spread over [0, 2]: both the quadratic and the linear part count.
    prediction = np.random.default_rng(0).uniform(-1, 1, size=(2, 8, 8, 3)).astype("float32")
    target = np.random.default_rng(1).uniform(0, 1, size=(2, 8, 8, 3)).astype("float32")
    expected = keras.losses.Huber(delta=delta)(target, prediction)
    np.testing.assert_allclose(to_float(huber(prediction, target, delta)), to_float(expected), rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 16, 16, 3), (2, 12, 12, 12, 1)])
def test_ssim_loss_is_one_minus_per_sample_ssim(shape):
    a, b = images(shape, 0), images(shape, 1)
    assert to_float(SSIMLoss()(a, a)) < 1e-6
    per_sample = [1.0 - to_float(ssim(b[i : i + 1], a[i : i + 1], window_size=11)) for i in range(2)]
    np.testing.assert_allclose(to_float(SSIMLoss()(a, b)), np.mean(per_sample), rtol=1e-5)
    weighted = SSIMLoss()(a, b, sample_weight=np.array([1.0, 0.0], "float32"))
    np.testing.assert_allclose(to_float(weighted), per_sample[0] / 2, rtol=1e-5)
    assert round_trip(SSIMLoss(max_val=2.0, window_size=5)).get_config()["window_size"] == 5


def test_ssim_map_mean_is_ssim():
    a, b = images((2, 10, 10, 2), 2), images((2, 10, 10, 2), 3)
    values = keras.ops.convert_to_numpy(ssim_map(a, b))
    assert values.shape == (2, 4, 4, 2)
    np.testing.assert_allclose(values.mean(), to_float(ssim(a, b)), rtol=1e-6)


def gradient_loss_numpy(y_true, y_pred):
    total = np.zeros(len(y_true))
    for axis in range(1, y_true.ndim - 1):
        dt = np.abs(np.diff(y_true, axis=axis))
        dp = np.abs(np.diff(y_pred, axis=axis))
        total += np.abs(dt - dp).reshape(len(y_true), -1).mean(1)
    return total.mean()


@pytest.mark.parametrize("shape", [(2, 8, 9, 3), (1, 5, 6, 7, 1)])
def test_gradient_loss_matches_liu_et_al(shape):
    a, b = images(shape, 4), images(shape, 5)
    np.testing.assert_allclose(to_float(GradientLoss()(a, b)), gradient_loss_numpy(a, b), rtol=1e-5)
    # Shifting the intensity keeps the gradients: no gradient loss.
    assert to_float(GradientLoss()(a, a + 0.3)) < 1e-6


def focal_numpy(mask, probabilities, gamma, smooth=1e-5, alpha=None):
    target = np.eye(probabilities.shape[-1])[mask[..., 0].astype(int)]
    target = np.clip(target, smooth / (probabilities.shape[-1] - 1), 1 - smooth)
    p_t = (target * probabilities).sum(-1) + smooth
    loss = -((1 - p_t) ** gamma) * np.log(p_t)
    if alpha is not None:
        loss *= (target * np.asarray(alpha)).sum(-1)
    return loss.mean()


def test_focal_loss_matches_draem():
    rng = np.random.default_rng(6)
    mask = (rng.uniform(size=(2, 6, 6, 1)) > 0.7).astype("float32")
    logits = rng.normal(size=(2, 6, 6, 2))
    probabilities = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    np.testing.assert_allclose(to_float(FocalLoss()(mask, probabilities)), focal_numpy(mask, probabilities, 2.0), rtol=1e-5)
    np.testing.assert_allclose(
        to_float(FocalLoss(gamma=0.5, alpha=[0.25, 0.75])(mask, probabilities)),
        focal_numpy(mask, probabilities, 0.5, alpha=[0.25, 0.75]),
        rtol=1e-5,
    )
    one_hot = np.eye(2, dtype="float32")[mask[..., 0].astype(int)]
    np.testing.assert_allclose(to_float(FocalLoss()(one_hot, probabilities)), to_float(FocalLoss()(mask, probabilities)), rtol=1e-6)
    # Confident right answers cost far less than confident wrong ones.
    right = np.concatenate([1 - mask, mask], -1) * 0.98 + 0.01
    wrong = 1 - right
    assert to_float(FocalLoss()(mask, right)) < 1e-3 < to_float(FocalLoss()(mask, wrong))
    assert round_trip(FocalLoss(gamma=1.0, alpha=[1.0, 2.0])).get_config()["alpha"] == [1.0, 2.0]


def test_focal_loss_rejects_mismatched_inputs():
    probabilities = np.full((1, 4, 4, 2), 0.5, "float32")
    with pytest.raises(ValueError, match="1 \\(class index\\) or 2"):
        FocalLoss()(np.zeros((1, 4, 4, 3), "float32"), probabilities)
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=[1.0, 1.0, 1.0])(np.zeros((1, 4, 4, 1), "float32"), probabilities)
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)


def test_loss_sum_weights_per_sample_terms():
    a, b = images((2, 16, 16, 1), 7), images((2, 16, 16, 1), 8)
    loss = LossSum([keras.losses.MeanSquaredError(), SSIMLoss()], weights=[2.0, 0.5])
    expected = 2.0 * ((a - b) ** 2).mean() + 0.5 * to_float(SSIMLoss()(a, b))
    np.testing.assert_allclose(to_float(loss(a, b)), expected, rtol=1e-5)
    revived = round_trip(loss)
    np.testing.assert_allclose(to_float(revived(a, b)), expected, rtol=1e-5)
    assert LossSum(["MeanAbsoluteError"]).weights == [1.0]
    with pytest.raises(ValueError, match="class names"):
        LossSum(["mae"])
    with pytest.raises(ValueError, match="one value per loss"):
        LossSum(["MeanSquaredError", "MeanAbsoluteError"], weights=[1.0])
    with pytest.raises(ValueError, match="non-empty"):
        LossSum([])
