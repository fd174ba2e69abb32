import numpy as np
import pytest

from keras_ssmctb.datasets import read_shanghaitech
from tests.datasets import layouts


def _layout(root, mask_height=24, label_length=5):
    layouts.write_video(root / "training" / "videos" / "01_001.avi", layouts.frames(6))
    layouts.write_images(
        root / "testing" / "frames" / "01_0014", layouts.frames(5), extension=".jpg"
    )
    layouts.write_images(
        root / "testing" / "frames" / "02_0128", layouts.frames(4, seed=2), extension=".jpg"
    )
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    (root / "testing" / "test_pixel_mask").mkdir(parents=True)
    np.save(
        root / "testing" / "test_frame_mask" / "01_0014.npy",
        np.array([0, 0, 1, 1, 0][:label_length] + [0] * (label_length - 5)),
    )
    np.save(root / "testing" / "test_frame_mask" / "02_0128.npy", np.array([1, 0, 0, 0]))
    np.save(
        root / "testing" / "test_pixel_mask" / "01_0014.npy",
        layouts.masks(5, height=mask_height, abnormal=(2, 3)),
    )
    np.save(root / "testing" / "test_pixel_mask" / "02_0128.npy", layouts.masks(4, abnormal=(0,)))
    return root


def test_train_and_test_splits(tmp_path):
    root = _layout(tmp_path / "shanghaitech")
    train = read_shanghaitech(root, "train", cache_dir=tmp_path / "cache")
    assert train.names == ["01_001"]
    assert train[0].load_frames(16).shape == (6, 16, 16, 3)
    test = read_shanghaitech(root, "test", cache_dir=tmp_path / "cache")
    assert test.names == ["01_0014", "02_0128"]
    np.testing.assert_array_equal(test[0].labels, [0, 0, 1, 1, 0])
    masks = test[0].load_masks()
    assert masks.shape == (5, 24, 32)
    np.testing.assert_array_equal(masks.reshape(5, -1).any(axis=1), test[0].labels.astype(bool))


def test_training_frames_variant(tmp_path):
    root = tmp_path / "shanghaitech"
    layouts.write_images(
        root / "training" / "frames" / "01_001", layouts.frames(3), extension=".jpg"
    )
    assert read_shanghaitech(root, "train")[0].num_frames == 3


def test_frame_label_length_mismatch_names_the_file(tmp_path):
    root = _layout(tmp_path / "shanghaitech", label_length=7)
    with pytest.raises(ValueError, match=r"01_0014\.npy.*7 frames|7.*01_0014\.npy"):
        read_shanghaitech(root, "test")


def test_pixel_mask_of_the_wrong_size(tmp_path):
    root = _layout(tmp_path / "shanghaitech", mask_height=20)
    test = read_shanghaitech(root, "test", cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match=r"test_pixel_mask.*01_0014\.npy.*\(20, 32\).*\(24, 32\)"):
        test[0].load_masks()


def test_missing_files_are_named(tmp_path):
    root = _layout(tmp_path / "shanghaitech")
    (root / "testing" / "test_frame_mask" / "02_0128.npy").unlink()
    with pytest.raises(FileNotFoundError, match="02_0128.npy"):
        read_shanghaitech(root, "test")
    (tmp_path / "bare" / "training").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="training/videos.*training/frames"):
        read_shanghaitech(tmp_path / "bare", "train")
