import numpy as np
import pytest

from keras_ssmctb.datasets import read_ucsd
from keras_ssmctb.datasets.ucsd import parse_ucsd_m_file
from tests.datasets import layouts

_M_FILE = """TestVideoFile = {};
TestVideoFile{end+1}.gt_frame = [3:5];
TestVideoFile{end+1}.gt_frame = [1:2, 5:6];
"""


def _original(root, m_file=_M_FILE, gt_count=6):
    base = root / "UCSDped2"
    gray = layouts.frames(6)[..., :1]
    layouts.write_images(base / "Train" / "Train001", gray, extension=".tif")
    layouts.write_images(base / "Test" / "Test001", gray, extension=".tif")
    layouts.write_images(
        base / "Test" / "Test001_gt", layouts.masks(gt_count, abnormal=(2, 3, 4)), extension=".bmp"
    )
    layouts.write_images(base / "Test" / "Test002", gray, extension=".tif")
    (base / "Test" / ".DS_Store").write_text("")
    (base / "Test" / "UCSDped2.m").write_text(m_file)
    return root


def test_parse_m_file_ranges(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text(
        "TestVideoFile{end+1}.gt_frame = [60:152];\n"
        "TestVideoFile{end+1}.gt_frame = [5:90, 140:200];\n"
        "TestVideoFile{end+1}.gt_frame = [7];\n"
    )
    assert parse_ucsd_m_file(path) == [[(60, 152)], [(5, 90), (140, 200)], [(7, 7)]]


def test_original_layout(tmp_path):
    root = _original(tmp_path)
    train = read_ucsd(root, "ped2", "train", cache_dir=tmp_path / "cache")
    assert train.names == ["Train001"]
    assert train[0].load_frames().shape == (6, 24, 32, 1)
    test = read_ucsd(root, "ped2", "test", cache_dir=tmp_path / "cache")
    assert test.names == ["Test001", "Test002"]  # Test001_gt is not a video
    np.testing.assert_array_equal(test[0].labels, [0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(test[1].labels, [1, 1, 0, 0, 1, 1])
    assert test[0].load_masks().shape == (6, 24, 32)
    assert not test[1].has_masks
    # The UCSDped2 folder itself is accepted as root too.
    assert read_ucsd(root / "UCSDped2", "ped2", "test").names == ["Test001", "Test002"]


def test_original_layout_bad_inputs(tmp_path):
    root = _original(tmp_path / "a", m_file="TestVideoFile{end+1}.gt_frame = [3:5];\n")
    with pytest.raises(ValueError, match=r"UCSDped2\.m.*1 test videos.*2 video folders"):
        read_ucsd(root, "ped2", "test")
    root = _original(
        tmp_path / "b",
        m_file="TestVideoFile{end+1}.gt_frame = [3:9];\nTestVideoFile{end+1}.gt_frame = [1:2];\n",
    )
    with pytest.raises(ValueError, match=r"UCSDped2\.m.*\[3, 9\].*6 frames"):
        read_ucsd(root, "ped2", "test")
    root = _original(tmp_path / "c", gt_count=5)
    with pytest.raises(ValueError, match=r"Test001_gt.*5 frames|5 frames.*Test001_gt"):
        read_ucsd(root, "ped2", "test")
    with pytest.raises(FileNotFoundError, match="UCSDped1.*ped1"):
        read_ucsd(root, "ped1", "test")
    with pytest.raises(ValueError, match="subset"):
        read_ucsd(root, "ped3", "test")


def test_frames_extracted_layout_with_mat_labels(tmp_path):
    base = tmp_path / "ped2"
    layouts.write_images(base / "training" / "frames" / "01", layouts.frames(5), extension=".jpg")
    layouts.write_images(base / "testing" / "frames" / "01", layouts.frames(6), extension=".jpg")
    layouts.write_images(base / "testing" / "frames" / "02", layouts.frames(4), extension=".jpg")
    layouts.write_interval_mat(base / "ped2.mat", [[(2, 4)], [(1, 1), (3, 4)]])
    assert read_ucsd(tmp_path, "ped2", "train")[0].num_frames == 5
    test = read_ucsd(tmp_path, "ped2", "test")
    np.testing.assert_array_equal(test[0].labels, [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(test[1].labels, [1, 0, 1, 1])


def test_frames_extracted_layout_bad_mat(tmp_path):
    base = tmp_path / "ped2"
    layouts.write_images(base / "testing" / "frames" / "01", layouts.frames(3), extension=".jpg")
    layouts.write_interval_mat(base / "ped2.mat", [[(2, 5)]])
    with pytest.raises(ValueError, match=r"ped2\.mat.*\[2, 5\].*3 frames"):
        read_ucsd(tmp_path, "ped2", "test")
    layouts.write_interval_mat(base / "ped2.mat", [[(1, 2)]], variable="labels")
    with pytest.raises(ValueError, match=r"ped2\.mat.*no variable 'gt'"):
        read_ucsd(tmp_path, "ped2", "test")
