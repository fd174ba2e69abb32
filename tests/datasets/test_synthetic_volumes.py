import numpy as np
import pytest

from keras_ssmctb.datasets.synthetic_volumes import make_synthetic_volumes


def test_labels_agree_with_masks_and_lesions_are_bright():
    test = make_synthetic_volumes("test", num_volumes=6, volume_shape=(24, 24, 24), seed=1)
    masks = [test.load_mask(i) for i in range(len(test))]
    np.testing.assert_array_equal(test.labels, [m.any() for m in masks])
    assert test.labels.sum() == 3
    for i in np.flatnonzero(test.labels):
        volume = test.load_volume(i)[..., 0]
        assert volume.shape == (24, 24, 24)
        assert volume[masks[i] == 1].mean() > volume[(masks[i] == 0) & (volume > 0)].mean() + 0.2
    assert all(
        0.0 <= test.load_volume(i).min() and test.load_volume(i).max() <= 1.0 for i in range(6)
    )


def test_same_seed_same_data_and_train_is_healthy():
    first = make_synthetic_volumes("train", num_volumes=3, volume_shape=(16, 20, 24), seed=2)
    second = make_synthetic_volumes("train", num_volumes=3, volume_shape=(16, 20, 24), seed=2)
    np.testing.assert_array_equal(first.load_volume(2), second.load_volume(2))
    assert first.labels.sum() == 0
    assert first.load_volume(0).shape == (16, 20, 24, 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="volume_shape"):
        make_synthetic_volumes("test", volume_shape=(8, 32, 32))
