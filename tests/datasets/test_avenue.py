import numpy as np
import pytest

from keras_ssmctb.datasets import read_avenue
from tests.datasets import layouts


def _original_layout(root, test_lengths=(6, 5), label_lengths=None):
    layouts.write_video(root / "training_videos" / "01.avi", layouts.frames(4))
    layouts.write_video(root / "training_videos" / "02.avi", layouts.frames(5, seed=1))
    label_lengths = label_lengths or test_lengths
    for number, (length, label_length) in enumerate(zip(test_lengths, label_lengths), start=1):
        layouts.write_video(
            root / "testing_videos" / f"{number:02d}.avi", layouts.frames(length, seed=number)
        )
        abnormal = range(1, label_length, 2)
        layouts.write_vol_label(
            root / "ground_truth_demo" / "testing_label_mask" / f"{number}_label.mat",
            layouts.masks(label_length, abnormal=abnormal),
        )
    return root


def test_original_layout_train_and_test(tmp_path):
    root = _original_layout(tmp_path / "avenue")
    train = read_avenue(root, "train", cache_dir=tmp_path / "cache")
    assert train.names == ["01", "02"]
    assert train.labels is None
    assert train[1].load_frames(16, channels=1).shape == (5, 16, 16, 1)

    test = read_avenue(root, "test", cache_dir=tmp_path / "cache")
    assert test.names == ["01", "02"]
    np.testing.assert_array_equal(test[0].labels, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(test[1].labels, [0, 1, 0, 1, 0])
    assert test[0].load_frames().shape == (6, 24, 32, 3)
    masks = test[0].load_masks(image_size=(12, 16))
    assert masks.shape == (6, 12, 16)
    np.testing.assert_array_equal(masks.reshape(6, -1).any(axis=1), test[0].labels.astype(bool))


def test_label_file_frame_count_must_match_the_video(tmp_path):
    root = _original_layout(tmp_path / "avenue", test_lengths=(6, 5), label_lengths=(6, 7))
    test = read_avenue(root, "test", cache_dir=tmp_path / "cache")
    test[0].load_frames(8)  # consistent
    video = test[1]
    assert len(video.labels) == 7
    with pytest.raises(
        ValueError, match=r"02\.avi.*5 frames.*2_label\.mat.*7|2_label\.mat.*7.*02\.avi.*5"
    ):
        video.load_frames(8)


def test_missing_label_file_and_folders_are_named(tmp_path):
    root = _original_layout(tmp_path / "avenue")
    (root / "ground_truth_demo" / "testing_label_mask" / "2_label.mat").unlink()
    with pytest.raises(FileNotFoundError, match="2_label.mat"):
        read_avenue(root, "test")
    with pytest.raises(FileNotFoundError, match="CUHK Avenue root"):
        read_avenue(tmp_path / "nowhere", "test")
    with pytest.raises(FileNotFoundError, match="training_videos.*training/frames"):
        read_avenue(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        read_avenue(root, "validation")


def test_empty_split_folder(tmp_path):
    (tmp_path / "avenue" / "testing_videos").mkdir(parents=True)
    with pytest.raises(ValueError, match="testing_videos.*no file"):
        read_avenue(tmp_path / "avenue", "test")


def test_frames_extracted_layout_with_interval_labels(tmp_path):
    root = tmp_path / "avenue"
    layouts.write_images(root / "training" / "frames" / "01", layouts.frames(4), extension=".jpg")
    for name, count in (("01", 6), ("02", 5)):
        # Unpadded names sort naturally: 2.jpg before 10.jpg.
        layouts.write_images(
            root / "testing" / "frames" / name,
            layouts.frames(count),
            extension=".jpg",
            names=[str(k) for k in range(count)],
        )
    layouts.write_interval_mat(root / "avenue.mat", [[(2, 3)], [(1, 1), (4, 5)]])
    assert read_avenue(root, "train")[0].num_frames == 4
    test = read_avenue(root, "test", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(test[0].labels, [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(test[1].labels, [1, 0, 0, 1, 1])
    assert test[0].frame_source.paths[2].name == "2.jpg"
    assert not test[0].has_masks


def test_frames_extracted_layout_with_mask_labels(tmp_path):
    root = tmp_path / "avenue"
    layouts.write_images(root / "testing" / "frames" / "01", layouts.frames(4), extension=".jpg")
    layouts.write_vol_label(
        root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat",
        layouts.masks(4, abnormal=(3,)),
    )
    test = read_avenue(root, "test", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(test[0].labels, [0, 0, 0, 1])
    assert test[0].load_masks().shape == (4, 24, 32)


def test_real_avenue_sample(shared_data, tmp_path):
    root = shared_data / "avenue-sample"
    train = read_avenue(root, "train", cache_dir=tmp_path)
    assert train.names == ["12", "16"]
    test = read_avenue(root, "test", cache_dir=tmp_path)
    assert test.names == ["08", "17", "18", "19", "20", "21"]
    video = test[5]
    assert len(video.labels) == 76
    assert video.labels.sum() == 53
    assert test[0].labels.all() and test[2].labels.all()  # 08 and 18: abnormal throughout
    frames = video.load_frames(image_size=(36, 64), channels=1)
    assert frames.shape == (76, 36, 64, 1)
    assert video.frame_shape == (360, 640, 3)
    masks = video.load_masks(image_size=(36, 64))
    assert masks.shape == (76, 36, 64)
    np.testing.assert_array_equal(masks.reshape(76, -1).any(axis=1), video.labels.astype(bool))
