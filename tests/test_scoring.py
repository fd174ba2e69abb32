import numpy as np
import pytest
from scipy import ndimage

from keras_ssmctb import scoring


def test_psnr_per_sample():
    target = np.zeros((2, 4, 4, 1))
    prediction = target.copy()
    prediction[0] += 0.1
    values = scoring.psnr(prediction, target)
    assert values[0] == pytest.approx(20.0)
    assert values[1] == np.inf


def test_min_max_normalize_per_video_and_constant_video():
    out = scoring.min_max_normalize(
        [np.array([2.0, 4.0, 3.0]), np.array([10.0, 0.0]), np.array([5.0, 5.0])]
    )
    np.testing.assert_allclose(out[0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(out[1], [1.0, 0.0])
    np.testing.assert_array_equal(out[2], [0.0, 0.0])
    with pytest.raises(ValueError, match="list with one 1-D array per video"):
        scoring.min_max_normalize(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"scores\[0\].*infinite"):
        scoring.min_max_normalize([np.array([1.0, np.inf])])


def test_smooth_scores_is_gaussian_per_video():
    first, second = np.r_[np.zeros(10), 1.0, np.zeros(10)], np.ones(5) * 7.0
    out = scoring.smooth_scores([first, second], sigma=2.0)
    np.testing.assert_allclose(out[0], ndimage.gaussian_filter1d(first, 2.0, mode="nearest"))
    np.testing.assert_allclose(out[1], second)  # nothing leaks from the other video
    np.testing.assert_array_equal(scoring.smooth_scores([first], 0)[0], first)
    with pytest.raises(ValueError, match="sigma"):
        scoring.smooth_scores([first], -1)


def test_frame_anomaly_scores_from_psnr():
    out = scoring.frame_anomaly_scores(
        [np.array([30.0, 20.0, 25.0]), np.array([np.inf, 10.0, 20.0]), np.array([np.inf, np.inf])]
    )
    np.testing.assert_allclose(out[0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(out[1], [0.0, 1.0, 0.0])  # inf counts as the best finite PSNR
    np.testing.assert_array_equal(out[2], [0.0, 0.0])
    smoothed = scoring.frame_anomaly_scores([np.array([30.0, 20.0, 25.0])], sigma=1.0)[0]
    np.testing.assert_allclose(
        smoothed, ndimage.gaussian_filter1d(np.array([0.0, 1.0, 0.5]), 1.0, mode="nearest")
    )
    with pytest.raises(ValueError, match="-inf"):
        scoring.frame_anomaly_scores([np.array([-np.inf, 1.0])])
