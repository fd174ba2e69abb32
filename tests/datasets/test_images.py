import numpy as np
import pytest

from keras_ssmctb.datasets import ImageSplit
from keras_ssmctb.datasets import read_image_folder
from tests.datasets import layouts


def _tiles(root, mask_height=24):
    """Magnetic-tile style: X.jpg with its mask X.png beside it."""
    normal = layouts.frames(3)
    layouts.write_images(root / "free", normal, extension=".jpg", names=["n0", "n1", "n2"])
    layouts.write_images(
        root / "free", layouts.masks(3), extension=".png", names=["n0", "n1", "n2"]
    )
    layouts.write_images(
        root / "defect", layouts.frames(2, seed=5), extension=".jpg", names=["d0", "d1"]
    )
    layouts.write_images(
        root / "defect",
        layouts.masks(2, height=mask_height, abnormal=(0, 1)),
        extension=".png",
        names=["d0", "d1"],
    )
    return root


def test_masks_beside_images(tmp_path):
    root = _tiles(tmp_path)
    split = read_image_folder(root / "free", root / "defect", mask_suffix=".png")
    assert [p.name for p in split.images] == ["n0.jpg", "n1.jpg", "n2.jpg", "d0.jpg", "d1.jpg"]
    np.testing.assert_array_equal(split.labels, [0, 0, 0, 1, 1])
    assert split.load_mask(3).sum() == 48 and split.load_mask(0).sum() == 0
    assert split.load_images((12, 16), channels=1, cache_dir=tmp_path / "cache").shape == (
        5,
        12,
        16,
        1,
    )
    assert split.load_masks((12, 16), cache_dir=tmp_path / "cache").reshape(5, -1).any(
        axis=1
    ).tolist() == [0, 0, 0, 1, 1]


def test_mask_folder_with_suffix(tmp_path):
    layouts.write_images(tmp_path / "good", layouts.frames(2))
    layouts.write_images(tmp_path / "bad", layouts.frames(2), names=["a", "b"])
    layouts.write_images(
        tmp_path / "gt", layouts.masks(2, abnormal=(0, 1)), names=["a_mask", "b_mask"]
    )
    split = read_image_folder(
        tmp_path / "good", tmp_path / "bad", mask_dir=tmp_path / "gt", mask_suffix="_mask.png"
    )
    assert split.masks[2].name == "a_mask.png"
    assert split.masks[0] is None  # normal image without a mask: all zeros
    assert split.load_mask(0).shape == (24, 32)


def test_bad_inputs_are_named(tmp_path):
    root = _tiles(tmp_path, mask_height=20)
    split = read_image_folder(root / "free", root / "defect", mask_suffix=".png")
    with pytest.raises(ValueError, match=r"d0\.png.*\(20, 32\).*d0\.jpg.*\(24, 32\)"):
        split.load_mask(3)
    (root / "defect" / "d1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"d1\.jpg.*d1\.png"):
        read_image_folder(root / "free", root / "defect", mask_suffix=".png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no file"):
        read_image_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_image_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="normal_dir"):
        read_image_folder()


def test_one_class_split_and_subset():
    split = ImageSplit(np.zeros((10, 8, 8, 3), np.uint8), labels=[0] * 7 + [1] * 3)
    train, test = split.one_class_split(train_fraction=0.5, seed=1)
    assert len(train) == 4 and train.labels.sum() == 0
    assert len(test) == 6 and test.labels.sum() == 3
    assert set(train.names).isdisjoint(test.names)
    again, _ = split.one_class_split(train_fraction=0.5, seed=1)
    assert again.names == train.names


def test_real_magnetic_tile(shared_data, tmp_path):
    root = shared_data / "magnetic-tile"
    split = read_image_folder(
        root / "MT_Free" / "Imgs", root / "MT_Blowhole" / "Imgs", mask_suffix=".png"
    )
    assert len(split) == 952 + 115
    assert split.labels.sum() == 115
    assert all(p.suffix == ".jpg" for p in split.images)
    index = int(np.flatnonzero(split.labels)[0])
    mask = split.load_mask(index)
    assert mask.shape == split.image_size(index) and mask.any()
    small = split.subset([0, 1, index], name="tiles")
    images = small.load_images(32, channels=1, cache_dir=tmp_path)
    assert images.shape == (3, 32, 32, 1)
    assert small.load_masks(32, cache_dir=tmp_path)[2].any()
