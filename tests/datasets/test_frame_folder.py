import numpy as np
import pytest

from keras_ssmctb.datasets import read_frame_folder
from keras_ssmctb.datasets.frame_folder import read_label_file
from tests.datasets import layouts


def _layout(root):
    layouts.write_images(root / "frames" / "cam1", layouts.frames(5))
    layouts.write_images(root / "frames" / "cam2", layouts.frames(4, seed=3))
    (root / "labels").mkdir()
    np.save(root / "labels" / "cam1.npy", np.array([0, 1, 1, 0, 0]))
    (root / "labels" / "cam2.csv").write_text("frame,label\n0,0\n1,0\n2,1\n3,1\n")
    (root / "masks").mkdir()
    np.save(root / "masks" / "cam1.npy", layouts.masks(5, abnormal=(1, 2)))
    layouts.write_images(root / "masks" / "cam2", layouts.masks(4, abnormal=(2, 3)))
    return root


def test_videos_with_npy_and_csv_labels_and_masks(tmp_path):
    root = _layout(tmp_path)
    split = read_frame_folder(
        root / "frames", labels=root / "labels", masks=root / "masks", cache_dir=tmp_path / "cache"
    )
    assert split.names == ["cam1", "cam2"]
    np.testing.assert_array_equal(split[0].labels, [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(split[1].labels, [0, 0, 1, 1])
    assert split[0].load_masks().shape == (5, 24, 32)
    np.testing.assert_array_equal(split[1].load_masks().reshape(4, -1).any(axis=1), [0, 0, 1, 1])


def test_single_video_folder_with_label_file(tmp_path):
    layouts.write_images(tmp_path / "video", layouts.frames(3))
    (tmp_path / "labels.txt").write_text("0\n1\n1\n")
    split = read_frame_folder(tmp_path / "video", labels=tmp_path / "labels.txt")
    assert split.names == ["video"]
    np.testing.assert_array_equal(split[0].labels, [0, 1, 1])


def test_label_file_formats(tmp_path):
    (tmp_path / "a.csv").write_text("label\n1\n0\n")
    np.testing.assert_array_equal(read_label_file(tmp_path / "a.csv"), [1, 0])
    (tmp_path / "b.csv").write_text("1,0\n2,1\n3,1\n")
    np.testing.assert_array_equal(read_label_file(tmp_path / "b.csv"), [0, 1, 1])
    (tmp_path / "c.csv").write_text("0,0\n2,1\n")
    with pytest.raises(ValueError, match=r"c\.csv.*consecutively"):
        read_label_file(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("0\nx\n")
    with pytest.raises(ValueError, match=r"d\.csv', line 2"):
        read_label_file(tmp_path / "d.csv")


def test_bad_inputs_are_named(tmp_path):
    root = _layout(tmp_path)
    np.save(root / "labels" / "cam1.npy", np.zeros(6, dtype=int))
    with pytest.raises(ValueError, match=r"cam1\.npy.*6 frames|6.*cam1\.npy"):
        read_frame_folder(root / "frames", labels=root / "labels")
    (root / "labels" / "cam2.csv").unlink()
    np.save(root / "labels" / "cam1.npy", np.zeros(5, dtype=int))
    with pytest.raises(FileNotFoundError, match="cam2"):
        read_frame_folder(root / "frames", labels=root / "labels")
    with pytest.raises(ValueError, match="single file.*2 videos"):
        read_frame_folder(root / "frames", labels=root / "labels" / "cam1.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no sub-folder"):
        read_frame_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="missing"):
        read_frame_folder(tmp_path / "missing")
