import numpy as np
import pytest

from keras_ssmctb.datasets import read_mvtec
from tests.datasets import layouts


def _category(root):
    base = root / "widget"
    layouts.write_images(base / "train" / "good", layouts.frames(3))
    layouts.write_images(base / "test" / "good", layouts.frames(2))
    layouts.write_images(base / "test" / "scratch", layouts.frames(2, seed=4))
    layouts.write_images(
        base / "ground_truth" / "scratch",
        layouts.masks(2, abnormal=(0, 1)),
        names=["000_mask", "001_mask"],
    )
    return root


def test_train_and_test_splits(tmp_path):
    root = _category(tmp_path)
    train = read_mvtec(root, "widget", "train")
    assert len(train) == 3 and train.labels.sum() == 0
    test = read_mvtec(root, "widget", "test")
    assert test.names == ["good/000.png", "good/001.png", "scratch/000.png", "scratch/001.png"]
    np.testing.assert_array_equal(test.labels, [0, 0, 1, 1])
    masks = test.load_masks(12, cache_dir=tmp_path / "cache")
    assert masks.shape == (4, 12, 12)
    np.testing.assert_array_equal(masks.reshape(4, -1).any(axis=1), [0, 0, 1, 1])


def test_missing_category_and_mask(tmp_path):
    root = _category(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"'bottle'.*\['widget'\]"):
        read_mvtec(root, "bottle", "test")
    (root / "widget" / "ground_truth" / "scratch" / "001_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="001_mask.png"):
        read_mvtec(root, "widget", "test")
