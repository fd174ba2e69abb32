import pickle

import keras
import numpy as np
import pytest

from keras_ssmctb.datasets import Video
from keras_ssmctb.datasets import VideoSplit
from keras_ssmctb.datasets.pipelines import FrameClipDataset
from keras_ssmctb.datasets.pipelines import ImageDataset
from keras_ssmctb.datasets.pipelines import VolumeDataset
from keras_ssmctb.datasets.synthetic_images import make_synthetic_images
from keras_ssmctb.datasets.synthetic_volumes import make_synthetic_volumes
from keras_ssmctb.datasets.video import VideoFileSource
from tests.datasets import layouts


def _counting_split():
    """Two videos whose frame k is filled with the value 10 * k (+ 1 for video b)."""

    def video(name, count, offset):
        frames = np.stack([np.full((8, 8, 3), 10 * k + offset, np.uint8) for k in range(count)])
        labels = (np.arange(count) >= count - 2).astype(int)
        return Video(name, frames, labels=labels)

    return VideoSplit([video("a", 7, 0), video("b", 6, 1)])


def test_prediction_clips_are_time_ordered_and_aligned():
    dataset = FrameClipDataset(
        _counting_split(),
        num_input_frames=3,
        image_size=8,
        batch_size=4,
        value_range=(0, 1),
    )
    assert dataset.num_samples == (7 - 3) + (6 - 3)
    assert len(dataset) == 2
    x, y = dataset[0]
    assert x.shape == (4, 8, 8, 3) and y.shape == (4, 8, 8, 1)
    assert x.dtype == np.float32
    # Sample 0 predicts frame 3 of video a from frames 0, 1, 2 (oldest first);
    # the luma of a grey frame is its value.
    np.testing.assert_allclose(x[0, 0, 0], np.array([0, 10, 20]) / 255, atol=1 / 255)
    np.testing.assert_allclose(y[0, 0, 0], [30 / 255], atol=1 / 255)
    np.testing.assert_array_equal(
        dataset.sample_index[:5], [[0, 3], [0, 4], [0, 5], [0, 6], [1, 3]]
    )
    groups = dataset.group_by_video(np.arange(dataset.num_samples))
    assert [len(g) for g in groups] == [4, 3]
    labels = dataset.target_labels()
    np.testing.assert_array_equal(labels[0], [0, 0, 1, 1])
    np.testing.assert_array_equal(labels[1], [0, 1, 1])
    np.testing.assert_array_equal(dataset.target_frame_indices()[1], [3, 4, 5])


def test_reconstruction_rgb_and_minus_one_to_one():
    dataset = FrameClipDataset(
        _counting_split(),
        num_input_frames=2,
        image_size=(4, 6),
        channels=3,
        task="reconstruction",
        value_range=(-1, 1),
        batch_size=16,
    )
    assert dataset.num_samples == 6 + 5
    x, y = dataset[0]
    assert x.shape == (11, 4, 6, 6) and y.shape == (11, 4, 6, 3)
    # Target of sample 0 is frame 1, the last of its two input frames.
    np.testing.assert_allclose(y[0], x[0][..., 3:])
    np.testing.assert_allclose(x[0, 0, 0, :3], 0 / 127.5 - 1)
    np.testing.assert_allclose(y[0, 0, 0], 10 / 127.5 - 1, atol=1e-6)
    assert x.min() >= -1 and x.max() <= 1
    assert dataset.target_labels()[0].shape == (6,)


def test_shuffle_covers_every_sample_once_and_reshuffles():
    dataset = FrameClipDataset(
        _counting_split(), num_input_frames=1, image_size=8, batch_size=3, shuffle=True, seed=0
    )
    first = np.concatenate([dataset[i][1][:, 0, 0, 0] for i in range(len(dataset))])
    dataset.on_epoch_end()
    second = np.concatenate([dataset[i][1][:, 0, 0, 0] for i in range(len(dataset))])
    assert sorted(first) == sorted(second) and len(first) == dataset.num_samples
    assert not np.array_equal(first, second)
    with pytest.raises(ValueError, match="shuffle=False"):
        dataset.group_by_video(np.zeros(dataset.num_samples))


def test_drop_remainder_serves_only_full_batches():
    # 7 samples in batches of 3: two full batches, one sample left out per epoch.
    dataset = FrameClipDataset(
        _counting_split(), num_input_frames=3, image_size=8, batch_size=3,
        shuffle=True, seed=0, drop_remainder=True,
    )
    assert len(dataset) == 2
    assert [len(dataset[i][0]) for i in range(len(dataset))] == [3, 3]
    with pytest.raises(IndexError):
        dataset[2]
    served = set()
    for _ in range(20):  # reshuffling lets every sample take part over the epochs
        served.update(np.concatenate([dataset[i][1][:, 0, 0, 0] for i in range(2)]).tolist())
        dataset.on_epoch_end()
    assert len(served) == dataset.num_samples
    with pytest.raises(ValueError, match="batch_size=8 leaves no batch.*only 7 samples"):
        FrameClipDataset(_counting_split(), num_input_frames=3, image_size=8, batch_size=8, drop_remainder=True)
    with pytest.raises(ValueError, match="drop_remainder"):
        FrameClipDataset(_counting_split(), num_input_frames=3, image_size=8, drop_remainder="yes")


def test_bad_arguments():
    split = _counting_split()
    with pytest.raises(ValueError, match="task"):
        FrameClipDataset(split, task="future")
    with pytest.raises(ValueError, match="value_range"):
        FrameClipDataset(split, value_range=(0, 255))
    with pytest.raises(ValueError, match="'b' has 6 frames.*needs at least 7"):
        FrameClipDataset(split, num_input_frames=6, image_size=8)
    with pytest.raises(ValueError, match="channels"):
        FrameClipDataset(split, channels=2)


def test_fit_on_a_video_file_and_pickling(tmp_path):
    path = layouts.write_video(tmp_path / "clip.avi", layouts.frames(6))
    split = VideoSplit([Video("clip", VideoFileSource(path), cache_dir=tmp_path / "cache")])
    dataset = FrameClipDataset(split, num_input_frames=2, image_size=48, batch_size=2)
    model = keras.Sequential([keras.Input((48, 48, 2)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(dataset, verbose=0).shape == (4, 48, 48, 1)
    restored = pickle.loads(pickle.dumps(dataset))
    np.testing.assert_array_equal(restored[1][0], dataset[1][0])
    assert len(pickle.dumps(dataset)) < 6 * 48 * 48 / 4  # the cache file is referenced, not copied


def test_image_dataset_targets():
    split = make_synthetic_images("test", num_images=5, image_size=32)
    x = ImageDataset(split, image_size=16, batch_size=2)[0]
    assert x.shape == (2, 16, 16, 3) and 0 <= x.min() and x.max() <= 1
    x, mask = ImageDataset(split, image_size=16, batch_size=4, targets="mask", channels=1)[1]
    assert x.shape == (1, 16, 16, 1) and mask.shape == (1, 16, 16, 1)
    np.testing.assert_array_equal(mask[0, ..., 0], split.load_masks(16)[4])
    x, labels = ImageDataset(split, image_size=16, batch_size=5, targets="label")[0]
    np.testing.assert_array_equal(labels, split.labels)
    x, same = ImageDataset(split, image_size=16, batch_size=5, targets="image")[0]
    np.testing.assert_array_equal(x, same)
    with pytest.raises(ValueError, match="targets"):
        ImageDataset(split, targets="boxes")


def test_volume_dataset_resizes_and_normalises():
    split = make_synthetic_volumes("test", num_volumes=4, volume_shape=(16, 16, 16))
    dataset = VolumeDataset(split, volume_shape=(8, 12, 16), batch_size=3, targets="mask")
    x, mask = dataset[0]
    assert x.shape == (3, 8, 12, 16, 1) and mask.shape == (3, 8, 12, 16, 1)
    assert x.min() >= 0 and x.max() <= 1
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert len(dataset) == 2
