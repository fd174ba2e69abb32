import cv2
import numpy as np
import pytest

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.video import ImageFilesSource
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoFileSource
from keras_ssmctb.datasets.video import VideoSplit
from tests.datasets import layouts


def test_in_memory_video_resizes_converts_and_derives_labels():
    frames = layouts.frames(6)
    masks = layouts.masks(6, abnormal=(2, 3))
    video = Video("v", frames, masks=masks)
    assert video.num_frames == 6
    assert video.frame_shape == (24, 32, 3)
    np.testing.assert_array_equal(video.labels, [0, 0, 1, 1, 0, 0])
    gray = video.load_frames(image_size=(12, 16), channels=1)
    assert gray.shape == (6, 12, 16, 1) and gray.dtype == np.uint8
    expected = cv2.cvtColor(
        cv2.resize(frames[4], (16, 12), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
    )
    np.testing.assert_array_equal(gray[4, ..., 0], expected)
    small_masks = video.load_masks(image_size=(12, 16))
    assert small_masks.shape == (6, 12, 16)
    assert set(np.unique(small_masks)) == {0, 1}
    assert small_masks[2].sum() == 12  # the 6x8 box at half size


def test_video_file_is_decoded_once_into_the_cache(tmp_path, monkeypatch):
    path = layouts.write_video(tmp_path / "clip.avi", layouts.frames(7))
    cache_dir = tmp_path / "cache"
    first = Video("clip", VideoFileSource(path), cache_dir=cache_dir).load_frames(
        image_size=16, channels=1
    )
    assert first.shape == (7, 16, 16, 1)
    assert isinstance(first, np.memmap)
    assert len(list(cache_dir.glob("*.npy"))) == 1

    def no_decoding(path):
        raise AssertionError("the video was decoded again")

    monkeypatch.setattr(decoding, "iter_video_frames", no_decoding)
    again = Video("clip", VideoFileSource(path), cache_dir=cache_dir).load_frames(
        image_size=16, channels=1
    )
    np.testing.assert_array_equal(again, first)


def test_cache_entry_is_invalidated_when_the_source_changes(tmp_path):
    path = layouts.write_video(tmp_path / "clip.avi", layouts.frames(5))
    cache_dir = tmp_path / "cache"
    assert len(Video("a", VideoFileSource(path), cache_dir=cache_dir).load_frames(16)) == 5
    layouts.write_video(path, layouts.frames(9))
    assert len(Video("a", VideoFileSource(path), cache_dir=cache_dir).load_frames(16)) == 9


def test_undecodable_video_names_the_file(tmp_path):
    path = tmp_path / "broken.avi"
    path.write_bytes(b"this is not a video" * 50)
    video = Video("broken", VideoFileSource(path), cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="broken.avi"):
        video.load_frames(16)
    assert not list((tmp_path / "cache").glob("*"))  # no half-written cache entry


def test_label_count_mismatch_names_both_sources(tmp_path):
    paths = layouts.write_images(tmp_path / "frames", layouts.frames(5))
    with pytest.raises(ValueError, match=r"labels\.npy.*6 frames|5 frames.*labels\.npy|6.*5|5.*6"):
        Video("v", ImageFilesSource(paths), labels=np.zeros(6), label_source="'labels.npy'")
    # A video file's length is only known once decoded: checked then.
    video_path = layouts.write_video(tmp_path / "clip.avi", layouts.frames(5))
    video = Video(
        "clip",
        VideoFileSource(video_path),
        labels=np.zeros(6),
        label_source="'clip_labels.npy'",
        cache_dir=tmp_path / "cache",
    )
    with pytest.raises(ValueError, match="clip_labels.npy"):
        video.load_frames(8)


def test_mask_of_the_wrong_size_names_the_file(tmp_path):
    frame_paths = layouts.write_images(tmp_path / "frames", layouts.frames(3))
    bad = layouts.masks(3, height=20)
    mask_paths = layouts.write_images(tmp_path / "masks", bad, extension=".bmp")
    video = Video(
        "v",
        ImageFilesSource(frame_paths),
        masks=ImageFilesSource(mask_paths, kind="masks"),
        cache_dir=tmp_path / "cache",
    )
    with pytest.raises(ValueError, match=r"000\.bmp.*\(20, 32\).*\(24, 32\)"):
        video.load_masks()


def test_labels_must_be_binary():
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        Video("v", layouts.frames(3), labels=[0, 2, 1])


def test_video_split_rejects_empty_and_reports_labels():
    with pytest.raises(ValueError, match="holds no video"):
        VideoSplit([], name="empty/test")
    split = VideoSplit(
        [
            Video("a", layouts.frames(3), labels=[0, 1, 1]),
            Video("b", layouts.frames(2), labels=[0, 0]),
        ]
    )
    assert split.names == ["a", "b"]
    assert [list(l) for l in split.labels] == [[0, 1, 1], [0, 0]]
    assert split.num_frames == [3, 2]
