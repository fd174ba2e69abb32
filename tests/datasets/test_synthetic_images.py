import numpy as np
import pytest

from keras_ssmctb.datasets.synthetic_images import DEFECT_KINDS
from keras_ssmctb.datasets.synthetic_images import make_synthetic_images


def test_labels_agree_with_masks_and_kinds_cycle():
    test = make_synthetic_images("test", num_images=16, image_size=48, seed=2)
    masks = test.load_masks(48)
    np.testing.assert_array_equal(test.labels, masks.reshape(16, -1).any(axis=1))
    assert test.labels.sum() == 8
    kinds = {name.split("_", 1)[1] for name, label in zip(test.names, test.labels) if label}
    assert kinds == set(DEFECT_KINDS)
    # A defect changes the pixels under its mask.
    images = test.load_images(48).astype(np.float32)
    normal_mean = images[test.labels == 0].mean(axis=0)
    index = int(np.flatnonzero(test.labels)[0])
    inside = masks[index].astype(bool)
    assert np.abs(images[index][inside] - normal_mean[inside]).mean() > 30


def test_same_seed_same_data_and_train_is_normal():
    first = make_synthetic_images("train", num_images=6, image_size=32, channels=1, seed=4)
    second = make_synthetic_images("train", num_images=6, image_size=32, channels=1, seed=4)
    np.testing.assert_array_equal(first.load_images(32), second.load_images(32))
    assert first.load_images(32).shape == (6, 32, 32, 1)
    assert first.labels.sum() == 0 and not first.load_masks(32).any()
    assert not np.array_equal(
        first.load_images(32),
        make_synthetic_images("train", num_images=6, image_size=32, channels=1, seed=5).load_images(
            32
        ),
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="anomaly_fraction"):
        make_synthetic_images("test", anomaly_fraction=1.5)
    with pytest.raises(ValueError, match="channels"):
        make_synthetic_images("test", channels=2)
