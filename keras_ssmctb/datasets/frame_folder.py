"""Generic frame-folder reader: any data set stored as folders of frames."""

import pathlib

import numpy as np

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.video import ImageFilesSource
from keras_ssmctb.datasets.video import NpyMasksSource
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoSplit

LABEL_EXTENSIONS = (".npy", ".csv", ".txt")


def read_label_file(path):
    """Per-frame 0/1 labels from a `.npy`, `.csv` or `.txt` file.

    Formats:

    - `.npy`: a 1-D array with one entry per frame.
    - `.csv` / `.txt`: one row per frame, values separated by commas or
      whitespace, an optional non-numeric header row. One column: the label.
      Two columns: `frame,label`, where the frame numbers must run
      consecutively from 0 or from 1 (the rows are the frames, in order).

    Returns:
        An int64 array of shape `(num_frames,)`.

    Raises:
        ValueError: the file cannot be parsed, has more than two columns, or
            its frame column is not consecutive.
    """
    path = decoding.require_file(path, "label file")
    if path.suffix.lower() == ".npy":
        labels = np.load(path, allow_pickle=False)
        if labels.ndim == 2 and 1 in labels.shape:
            labels = labels.ravel()
        if labels.ndim != 1:
            raise ValueError(
                f"Label file '{path}' holds an array of shape {labels.shape}; expected 1-D."
            )
        return labels
    rows = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        tokens = [t for t in line.replace(",", " ").replace(";", " ").split() if t]
        if not tokens:
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            if not rows and number == 1:
                continue  # a header row
            raise ValueError(
                f"Label file '{path}', line {number}: non-numeric values {tokens}."
            ) from None
        if len(values) > 2 or (rows and len(values) != len(rows[0])):
            raise ValueError(
                f"Label file '{path}', line {number}: expected 1 column (label) or 2 "
                f"(frame, label) on every line; found {len(values)}."
            )
        rows.append(values)
    if not rows:
        raise ValueError(f"Label file '{path}' holds no labels.")
    table = np.asarray(rows)
    if table.shape[1] == 2:
        frames = table[:, 0]
        start = frames[0]
        if start not in (0, 1) or not np.array_equal(frames, np.arange(start, start + len(frames))):
            raise ValueError(
                f"Label file '{path}': the frame column must run consecutively from 0 or 1 "
                f"(one row per frame, in order); found {frames[:5].astype(int).tolist()}..."
            )
        table = table[:, 1:]
    labels = table[:, 0]
    if not np.array_equal(labels, np.round(labels)):
        raise ValueError(f"Label file '{path}': labels must be integers 0 or 1.")
    return labels.astype(np.int64)


def _find_label_file(label_dir, name):
    for extension in LABEL_EXTENSIONS:
        candidate = label_dir / f"{name}{extension}"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"No label file for video '{name}' in '{label_dir}': expected "
        + " or ".join(f"'{name}{e}'" for e in LABEL_EXTENSIONS)
        + "."
    )


def _mask_source(path, name):
    path = pathlib.Path(path)
    if path.is_dir():
        files = decoding.list_files(path, decoding.IMAGE_EXTENSIONS, f"masks of video '{name}'")
        return ImageFilesSource(files, kind="masks", description=f"masks in '{path}'")
    return NpyMasksSource(path)


def read_frame_folder(frames_dir, labels=None, masks=None, cache_dir=None):
    """Read videos stored as folders of frame images, with optional labels and masks.

    Covers data sets without a dedicated reader (e.g. Thermal Rare Event).

    Layout of `frames_dir`: one sub-folder per video holding its frames
    (`frames_dir/<video>/*.jpg|png|bmp|tif`, natural sort order: `2.jpg`
    before `10.jpg`); or, for a single video, the frame files directly.

    Args:
        frames_dir: the folder described above.
        labels: optional per-frame labels. A folder holding
            `<video>.npy|.csv|.txt` for every video (formats in
            `read_label_file`), or, for a single video, one such file.
        masks: optional pixel masks. A folder holding, per video,
            `<video>.npy` (a `(T, H, W)` array) or a sub-folder `<video>/` of
            mask images (non-zero = abnormal); for a single video, the `.npy`
            file or the folder of mask images itself.
        cache_dir: decode-once cache folder (see `Video`).

    Returns:
        A `VideoSplit` named after `frames_dir`.

    Raises:
        FileNotFoundError: `frames_dir`, or a video's label or mask file, is
            missing.
        ValueError: no frames; a label file whose length differs from the
            video's frame count; masks of the wrong count or size.

    Example:

    ```python
    split = read_frame_folder("thermal/test/frames", labels="thermal/test/labels")
    ```
    """
    frames_dir = decoding.require_dir(frames_dir, "frame folder")
    has_files = any(
        p.is_file() and p.suffix.lower() in decoding.IMAGE_EXTENSIONS and not p.name.startswith(".")
        for p in frames_dir.iterdir()
    )
    if has_files:
        video_dirs = [frames_dir]
    else:
        video_dirs = decoding.list_subdirs(
            frames_dir, "frame folder (no frame files and no video sub-folders)"
        )
    single = video_dirs == [frames_dir]
    labels_path = None if labels is None else pathlib.Path(labels)
    masks_path = None if masks is None else pathlib.Path(masks)
    if labels_path is not None and not labels_path.exists():
        raise FileNotFoundError(f"`labels` not found: '{labels_path}'.")
    if masks_path is not None and not masks_path.exists():
        raise FileNotFoundError(f"`masks` not found: '{masks_path}'.")
    if labels_path is not None and labels_path.is_file() and not single:
        raise ValueError(
            f"`labels` is the single file '{labels_path}' but '{frames_dir}' holds "
            f"{len(video_dirs)} videos; pass a folder with one label file per video."
        )
    videos = []
    for video_dir in video_dirs:
        name = video_dir.name
        files = decoding.list_files(
            video_dir, decoding.IMAGE_EXTENSIONS, f"frames of video '{name}'"
        )
        frames = ImageFilesSource(files, description=f"frames in '{video_dir}'")
        video_labels, label_source = None, None
        if labels_path is not None:
            label_file = (
                labels_path if labels_path.is_file() else _find_label_file(labels_path, name)
            )
            video_labels, label_source = read_label_file(label_file), f"'{label_file}'"
        video_masks = None
        if masks_path is not None:
            if single and (masks_path.suffix.lower() == ".npy" or _holds_images(masks_path)):
                video_masks = _mask_source(masks_path, name)
            elif (masks_path / name).is_dir():
                video_masks = _mask_source(masks_path / name, name)
            else:
                video_masks = _mask_source(
                    decoding.require_file(masks_path / f"{name}.npy", f"masks of video '{name}'"),
                    name,
                )
        videos.append(
            Video(
                name,
                frames,
                labels=video_labels,
                masks=video_masks,
                label_source=label_source,
                cache_dir=cache_dir,
            )
        )
    return VideoSplit(videos, name=frames_dir.name)


def _holds_images(path):
    return path.is_dir() and any(
        p.suffix.lower() in decoding.IMAGE_EXTENSIONS for p in path.iterdir()
    )
