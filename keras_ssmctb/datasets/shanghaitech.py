"""ShanghaiTech Campus reader (Luo, Liu & Gao, ICCV 2017)."""

import numpy as np

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.video import ImageFilesSource
from keras_ssmctb.datasets.video import NpyMasksSource
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoFileSource
from keras_ssmctb.datasets.video import VideoSplit


def read_shanghaitech(root, split="test", cache_dir=None):
    """Read a split of ShanghaiTech Campus in its published layout.

    Layout under `root`:

    - Train: `training/videos/SS_VVV.avi` (the published form), or
      `training/frames/SS_VVV/*.jpg` when the frames were extracted.
    - Test: `testing/frames/SS_VVVV/*.jpg`, per-frame labels
      `testing/test_frame_mask/SS_VVVV.npy` (required; a 1-D 0/1 array, one
      entry per frame) and pixel masks `testing/test_pixel_mask/SS_VVVV.npy`
      (a `(T, H, W)` array, optional as a folder: when
      `testing/test_pixel_mask` is absent the videos have no masks; when it
      exists every test video must have its file).

    Args:
        root: the ShanghaiTech folder (holding `training/` and `testing/`).
        split: `"train"` or `"test"`.
        cache_dir: decode-once cache folder (see `Video`).

    Returns:
        A `VideoSplit`.

    Raises:
        FileNotFoundError: a folder or a test video's label/mask file is
            missing.
        ValueError: an empty folder; a label array whose length differs from
            the frame count; a mask array of the wrong length or size
            (raised when the masks are loaded).
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    root = decoding.require_dir(root, "ShanghaiTech root folder")
    if split == "train":
        return _read_train(root, cache_dir)
    testing = decoding.require_dir(root / "testing", "ShanghaiTech testing folder")
    video_dirs = decoding.list_subdirs(testing / "frames", "ShanghaiTech test frame folders")
    label_dir = decoding.require_dir(testing / "test_frame_mask", "ShanghaiTech frame-label folder")
    mask_dir = testing / "test_pixel_mask"
    videos = []
    for video_dir in video_dirs:
        name = video_dir.name
        files = decoding.list_files(
            video_dir, decoding.IMAGE_EXTENSIONS, f"frames of ShanghaiTech video '{name}'"
        )
        label_path = decoding.require_file(
            label_dir / f"{name}.npy", f"frame labels of ShanghaiTech video '{name}'"
        )
        labels = np.load(label_path, allow_pickle=False)
        masks = None
        if mask_dir.is_dir():
            masks = NpyMasksSource(
                decoding.require_file(
                    mask_dir / f"{name}.npy", f"pixel masks of ShanghaiTech video '{name}'"
                )
            )
        videos.append(
            Video(
                name,
                ImageFilesSource(files, description=f"frames in '{video_dir}'"),
                labels=labels,
                masks=masks,
                label_source=f"'{label_path}'",
                cache_dir=cache_dir,
            )
        )
    return VideoSplit(videos, name="shanghaitech/test")


def _read_train(root, cache_dir):
    training = decoding.require_dir(root / "training", "ShanghaiTech training folder")
    if (training / "videos").is_dir():
        paths = decoding.list_files(
            training / "videos", decoding.VIDEO_EXTENSIONS, "ShanghaiTech training videos"
        )
        videos = [Video(p.stem, VideoFileSource(p), cache_dir=cache_dir) for p in paths]
    elif (training / "frames").is_dir():
        videos = []
        for video_dir in decoding.list_subdirs(
            training / "frames", "ShanghaiTech training frame folders"
        ):
            files = decoding.list_files(
                video_dir,
                decoding.IMAGE_EXTENSIONS,
                f"frames of ShanghaiTech video '{video_dir.name}'",
            )
            videos.append(
                Video(
                    video_dir.name,
                    ImageFilesSource(files, description=f"frames in '{video_dir}'"),
                    cache_dir=cache_dir,
                )
            )
    else:
        raise FileNotFoundError(
            f"No ShanghaiTech training data: expected '{training / 'videos'}' or "
            f"'{training / 'frames'}'."
        )
    return VideoSplit(videos, name="shanghaitech/train")
