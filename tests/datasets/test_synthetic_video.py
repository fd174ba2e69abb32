import numpy as np
import pytest

from keras_ssmctb.datasets import make_synthetic_video
from keras_ssmctb.datasets.synthetic_video import ANOMALY_KINDS
from keras_ssmctb.datasets.synthetic_video import _LANE_DIRECTIONS
from keras_ssmctb.datasets.synthetic_video import _LANE_FEET
from keras_ssmctb.datasets.synthetic_video import _WALK_SPEED


@pytest.fixture(scope="module")
def test_split():
    return make_synthetic_video("test", num_videos=4, num_frames=120, seed=3)


def test_labels_agree_with_masks_and_every_kind_appears(test_split):
    kinds = set()
    for video in test_split:
        masks = video.masks
        assert masks.shape == (120, 64, 64) and video.frames.shape == (120, 64, 64, 3)
        np.testing.assert_array_equal(video.labels, masks.reshape(120, -1).any(axis=1))
        assert 0.1 < video.labels.mean() < 0.9  # normal and abnormal frames
        assert video.labels[0] == 0
        for kind, first, last in video.metadata["events"]:
            kinds.add(kind)
            assert video.labels[first] == 1 and video.labels[last] == 1
    assert kinds == set(ANOMALY_KINDS)


def test_same_seed_same_data_and_train_is_normal():
    first = make_synthetic_video("train", num_videos=2, num_frames=60, image_size=48, seed=7)
    second = make_synthetic_video("train", num_videos=2, num_frames=60, image_size=48, seed=7)
    other = make_synthetic_video("train", num_videos=2, num_frames=60, image_size=48, seed=8)
    np.testing.assert_array_equal(first[1].frames, second[1].frames)
    assert not np.array_equal(first[1].frames, other[1].frames)
    assert first[0].labels is None and first[0].metadata["events"] == []
    assert first[0].frames.shape == (60, 48, 48, 3)


def test_anomalies_behave_as_described(test_split):
    walking = _WALK_SPEED * 64  # pixels per frame
    checked = set()
    for video in test_split:
        events = video.metadata["events"]
        for kind, first, last in events:
            # Frames where this event's actor is the only abnormal one, away from the edges.
            frames = [
                t
                for t in range(first + 2, last - 1)
                if not any(f <= t <= l for k, f, l in events if k != kind)
            ]
            if len(frames) < 6:
                continue
            track = np.array([_centroid(video.masks[t]) for t in frames])
            rows, cols, areas = track[:, 0], track[:, 1], track[:, 2]
            velocity = np.polyfit(frames, cols, 1)[0]
            if kind == "running":
                assert abs(velocity) > 2.4 * walking
            elif kind == "wrong_direction":
                bottom = max(np.nonzero(video.masks[frames[len(frames) // 2]])[0])
                lane = int(np.argmin([abs(bottom - f * 64) for f in _LANE_FEET]))
                assert np.sign(velocity) == -_LANE_DIRECTIONS[lane]
                assert abs(velocity) < 1.5 * walking
            elif kind == "thrown_object":
                assert areas.max() < 30  # a small object...
                assert np.polyfit(frames, rows, 2)[0] > 0  # ...rising, then falling: a parabola
            elif kind == "large_object":
                assert areas.max() > 120  # far bigger than a walker's backpack
            checked.add(kind)
    assert checked == set(ANOMALY_KINDS)


def _centroid(mask):
    rows, cols = np.nonzero(mask)
    return rows.mean(), cols.mean(), len(rows)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        make_synthetic_video("val")
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_video("train", image_size=16)
    with pytest.raises(ValueError, match="num_frames"):
        make_synthetic_video("train", num_frames=10)
