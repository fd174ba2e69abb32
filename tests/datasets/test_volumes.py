import importlib.util

import numpy as np
import pytest

from keras_ssmctb.datasets import read_volumes


def _volumes(root, mask_shape=(8, 10, 12)):
    (root / "vols").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(3):
        np.save(root / "vols" / f"case{index}.npy", np.full((8, 10, 12), index, np.float32))
        mask = np.zeros(mask_shape, np.uint8)
        if index == 2:
            mask[2:4, 3:5, 4:6] = 1
        np.save(root / "masks" / f"case{index}.npy", mask)
    return root


def test_npy_volumes_with_masks(tmp_path):
    root = _volumes(tmp_path)
    split = read_volumes(root / "vols", mask_dir=root / "masks")
    assert split.names == ["case0", "case1", "case2"]
    np.testing.assert_array_equal(split.labels, [0, 0, 1])
    assert split.load_volume(1).shape == (8, 10, 12, 1)
    assert split.load_mask(2).sum() == 8


def test_bad_inputs_are_named(tmp_path):
    root = _volumes(tmp_path, mask_shape=(8, 10, 11))
    split = read_volumes(root / "vols", mask_dir=root / "masks")
    with pytest.raises(ValueError, match=r"case0\.npy.*\(8, 10, 11\).*\(8, 10, 12\)"):
        split.load_mask(0)
    (root / "masks" / "case1.npy").unlink()
    with pytest.raises(FileNotFoundError, match="case1.npy"):
        read_volumes(root / "vols", mask_dir=root / "masks")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no .npy"):
        read_volumes(tmp_path / "empty")


@pytest.mark.skipif(importlib.util.find_spec("nibabel") is not None, reason="nibabel is installed")
def test_nifti_without_nibabel_says_how_to_install(tmp_path):
    (tmp_path / "vols").mkdir()
    (tmp_path / "vols" / "brain.nii.gz").write_bytes(b"\0" * 10)
    split = read_volumes(tmp_path / "vols")
    assert split.names == ["brain"]
    with pytest.raises(ImportError, match=r"brain\.nii\.gz.*nibabel"):
        split.load_volume(0)
