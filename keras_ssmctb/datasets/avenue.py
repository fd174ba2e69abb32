"""CUHK Avenue reader (Lu, Shi & Jia, ICCV 2013)."""

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.ground_truth import labels_from_intervals
from keras_ssmctb.datasets.ground_truth import read_interval_mat
from keras_ssmctb.datasets.video import ImageFilesSource
from keras_ssmctb.datasets.video import MatCellMasksSource
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoFileSource
from keras_ssmctb.datasets.video import VideoSplit

_SPLITS = ("train", "test")


def _check_split(split):
    if split not in _SPLITS:
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")


def read_avenue(root, split="test", cache_dir=None):
    """Read a split of CUHK Avenue in its published or frames-extracted layout.

    Layouts accepted (detected from the folders present under `root`):

    - Original: `training_videos/NN.avi`, `testing_videos/NN.avi` and
      `ground_truth_demo/testing_label_mask/N_label.mat`, where `volLabel`
      is a 1×T MATLAB cell array with one H×W mask per frame. A frame is
      abnormal when any mask pixel is set; the masks are the pixel-level
      ground truth (used by RBDC/TBDC).
    - Frames extracted: `training/frames/NN/*.jpg`, `testing/frames/NN/*.jpg`
      (frames in natural sort order). Test labels come from
      `ground_truth_demo/testing_label_mask/N_label.mat` when that folder
      exists (with masks), else from `avenue.mat` at the root (variable `gt`,
      a 1×V cell array of 2×K `[first; last]` 1-based inclusive abnormal
      intervals; frame labels only).

    Video `NN` pairs with label file `int(NN)_label.mat` (`08.avi` with
    `8_label.mat`). Training videos have no labels (all are normal).

    Args:
        root: the Avenue folder.
        split: `"train"` or `"test"`.
        cache_dir: decode-once cache folder (see `Video`).

    Returns:
        A `VideoSplit`, videos in natural order of their names.

    Raises:
        FileNotFoundError: `root`, the split's folder, or a test video's label
            file is missing.
        ValueError: a split folder is empty, or a label file's frame count
            does not match its video (raised when the video is decoded).

    Example:

    ```python
    test = read_avenue("../shared/data/avenue-sample", "test")
    test[5].name, test[5].labels.sum()  # ('21', 53)
    ```
    """
    _check_split(split)
    root = decoding.require_dir(root, "CUHK Avenue root folder")
    folder = "training" if split == "train" else "testing"
    if (root / f"{folder}_videos").is_dir():
        return _read_original(root, split, folder, cache_dir)
    if (root / folder / "frames").is_dir():
        return _read_frames_extracted(root, split, folder, cache_dir)
    raise FileNotFoundError(
        f"No Avenue {split} split under '{root}': expected '{root / (folder + '_videos')}' "
        f"(original layout) or '{root / folder / 'frames'}' (frames-extracted layout)."
    )


def _label_mat(label_dir, name):
    path = (
        label_dir / f"{int(name)}_label.mat" if name.isdigit() else label_dir / f"{name}_label.mat"
    )
    return decoding.require_file(path, f"Avenue label file of test video '{name}'")


def _read_original(root, split, folder, cache_dir):
    paths = decoding.list_files(
        root / f"{folder}_videos", decoding.VIDEO_EXTENSIONS, f"Avenue {split} videos"
    )
    label_dir = None
    if split == "test":
        label_dir = decoding.require_dir(
            root / "ground_truth_demo" / "testing_label_mask", "Avenue test label folder"
        )
    videos = []
    for path in paths:
        masks = None if label_dir is None else MatCellMasksSource(_label_mat(label_dir, path.stem))
        videos.append(Video(path.stem, VideoFileSource(path), masks=masks, cache_dir=cache_dir))
    return VideoSplit(videos, name=f"avenue/{split}")


def _read_frames_extracted(root, split, folder, cache_dir):
    video_dirs = decoding.list_subdirs(root / folder / "frames", f"Avenue {split} frame folders")
    label_dir = root / "ground_truth_demo" / "testing_label_mask"
    intervals = None
    if split == "test" and not label_dir.is_dir():
        mat = decoding.require_file(
            root / "avenue.mat",
            f"Avenue test labels (neither '{label_dir}' nor avenue.mat exists)",
        )
        intervals = read_interval_mat(mat, "gt")
        if len(intervals) != len(video_dirs):
            raise ValueError(
                f"'{mat}' has labels for {len(intervals)} test videos but "
                f"'{root / folder / 'frames'}' holds {len(video_dirs)} video folders."
            )
    videos = []
    for index, video_dir in enumerate(video_dirs):
        files = decoding.list_files(
            video_dir, decoding.IMAGE_EXTENSIONS, f"frames of Avenue video '{video_dir.name}'"
        )
        frames = ImageFilesSource(files, description=f"frames in '{video_dir}'")
        if split == "train":
            videos.append(Video(video_dir.name, frames, cache_dir=cache_dir))
        elif intervals is None:
            masks = MatCellMasksSource(_label_mat(label_dir, video_dir.name))
            videos.append(Video(video_dir.name, frames, masks=masks, cache_dir=cache_dir))
        else:
            source = f"'{root / 'avenue.mat'}' (video {index + 1})"
            labels = labels_from_intervals(intervals[index], len(files), source)
            videos.append(
                Video(
                    video_dir.name, frames, labels=labels, label_source=source, cache_dir=cache_dir
                )
            )
    return VideoSplit(videos, name=f"avenue/{split}")
