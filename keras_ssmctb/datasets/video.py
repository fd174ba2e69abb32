"""One representation for every video source: `Video` and `VideoSplit`.

Readers (`read_avenue`, `read_shanghaitech`, `read_ucsd`,
`read_frame_folder`) and the synthetic generator (`make_synthetic_video`)
all return a `VideoSplit`: a list of `Video` objects. A `Video` knows where
its frames, per-frame labels and per-pixel masks come from and decodes them
lazily, once, into the decode-once cache (`keras_ssmctb.datasets.cache`) at
the resolution a pipeline asks for. Consistency (frame counts of frames,
labels and masks; mask size against frame size) is checked as soon as the
information is available, and a mismatch raises a `ValueError` naming the
files involved.
"""

import collections.abc
import pathlib

import numpy as np

from keras_ssmctb.datasets import cache
from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.ground_truth import load_mat_variable


class FrameSource:
    """Where a video's frames, or its masks, come from.

    Subclasses yield one item per frame: uint8 `(H, W, C)` frames, or uint8
    `(H, W)` 0/1 masks when `kind == "masks"`.

    Args:
        kind: `"frames"` or `"masks"`.
        description: words naming the source in error messages.
    """

    def __init__(self, kind, description):
        if kind not in ("frames", "masks"):
            raise ValueError(f"`kind` must be 'frames' or 'masks'. Received: {kind!r}")
        self.kind = kind
        self.description = description

    def fingerprint(self):
        """Cache key of the source, or `None` for in-memory sources (not cached)."""
        return None

    def length_hint(self):
        """The number of items when known without decoding, else `None`."""
        return None

    def item_description(self, index):
        return f"{self.kind[:-1]} {index} of {self.description}"

    def first(self):
        """The first item (decodes only what is needed for it)."""
        for item in self:
            return item
        raise ValueError(f"{self.description} holds no {self.kind}.")

    def __iter__(self):
        raise NotImplementedError


class VideoFileSource(FrameSource):
    """Frames decoded from a video file (`.avi`, `.mp4`, ...) with OpenCV."""

    def __init__(self, path):
        path = pathlib.Path(path)
        super().__init__("frames", f"video file '{path}'")
        self.path = path

    def fingerprint(self):
        return cache.fingerprint_files([self.path], extra="video")

    def first(self):
        return decoding.read_first_video_frame(self.path)

    def __iter__(self):
        return decoding.iter_video_frames(self.path)


class ImageFilesSource(FrameSource):
    """One image file per frame (or per mask), in the given order."""

    def __init__(self, paths, kind="frames", description=None):
        self.paths = [pathlib.Path(p) for p in paths]
        if not self.paths:
            raise ValueError(f"{description or 'image sequence'}: no files given.")
        if description is None:
            description = f"image files in '{self.paths[0].parent}'"
        super().__init__(kind, description)

    def fingerprint(self):
        return cache.fingerprint_files(self.paths, extra=f"images-{self.kind}")

    def length_hint(self):
        return len(self.paths)

    def item_description(self, index):
        return f"'{self.paths[index]}'"

    def first(self):
        return self._read(self.paths[0])

    def _read(self, path):
        if self.kind == "masks":
            return decoding.read_mask(path)
        return decoding.read_image(path)

    def __iter__(self):
        return (self._read(path) for path in self.paths)


class NpyMasksSource(FrameSource):
    """Masks stored as one `.npy` array of shape `(T, H, W)` (non-zero = abnormal)."""

    def __init__(self, path):
        path = decoding.require_file(path, "mask file")
        super().__init__("masks", f"'{path}'")
        self.path = path

    def _array(self):
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise ValueError(
                f"Could not read {self.description} as a numeric .npy array: {error}"
            ) from None
        if array.ndim != 3:
            raise ValueError(
                f"{self.description} has shape {array.shape}; expected (frames, height, width)."
            )
        return array

    def fingerprint(self):
        return cache.fingerprint_files([self.path], extra="npy-masks")

    def length_hint(self):
        return int(self._array().shape[0])

    def __iter__(self):
        array = self._array()
        return ((np.asarray(mask) != 0).astype(np.uint8) for mask in array)


class MatCellMasksSource(FrameSource):
    """Masks stored as a MATLAB cell array of `(H, W)` arrays (Avenue's `volLabel`)."""

    def __init__(self, path, variable="volLabel"):
        path = decoding.require_file(path, "MATLAB label file")
        super().__init__("masks", f"'{path}'")
        self.path = path
        self.variable = variable

    def fingerprint(self):
        return cache.fingerprint_files([self.path], extra=f"mat-{self.variable}")

    def _cells(self):
        cells = load_mat_variable(self.path, self.variable)
        if cells.dtype != object:
            raise ValueError(
                f"Variable '{self.variable}' in {self.description} should be a cell "
                f"array of per-frame masks; found a {cells.dtype} array of shape {cells.shape}."
            )
        return cells.ravel()

    def __iter__(self):
        for index, cell in enumerate(self._cells()):
            cell = np.asarray(cell)
            if cell.ndim != 2:
                raise ValueError(
                    f"Cell {index} of '{self.variable}' in {self.description} has shape "
                    f"{cell.shape}; expected a 2-D (height, width) mask."
                )
            yield (cell != 0).astype(np.uint8)


class ArraySource(FrameSource):
    """Frames or masks already in memory: a `(T, H, W[, C])` / `(T, H, W)` array."""

    def __init__(self, array, kind="frames", description="in-memory array"):
        super().__init__(kind, description)
        array = np.asarray(array)
        if kind == "masks":
            if array.ndim != 3:
                raise ValueError(
                    f"Masks must have shape (frames, height, width). Received: {array.shape}"
                )
            array = (array != 0).astype(np.uint8)
        else:
            if array.ndim == 3:
                array = array[..., None]
            if array.ndim != 4 or array.shape[-1] not in (1, 3):
                raise ValueError(
                    "Frames must have shape (frames, height, width[, 1 or 3]). "
                    f"Received: {array.shape}"
                )
            array = _as_uint8_frame(array, description)
        if array.shape[0] == 0:
            raise ValueError(f"{description}: the array holds no {kind}.")
        self.array = array

    def length_hint(self):
        return int(self.array.shape[0])

    def first(self):
        return self.array[0]

    def __iter__(self):
        return iter(self.array)


def _as_uint8_frame(array, description):
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (array.min() < 0.0 or array.max() > 1.0):
            raise ValueError(
                f"{description}: float frames must lie in [0, 1]; found values in "
                f"[{array.min()}, {array.max()}]. Pass uint8 frames or scale them."
            )
        return np.round(array * 255.0).astype(np.uint8)
    raise ValueError(f"{description}: frames must be uint8 or float in [0, 1]; got {array.dtype}.")


def _as_source(value, kind):
    if isinstance(value, FrameSource):
        if value.kind != kind:
            raise ValueError(f"Expected a source of {kind}, got one of {value.kind}.")
        return value
    return ArraySource(value, kind=kind)


def _validate_labels(labels, description):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"Labels from {description} must be 1-D. Received shape {labels.shape}.")
    if labels.size and not np.isin(labels, (0, 1)).all():
        bad = np.unique(labels[~np.isin(labels, (0, 1))])[:5]
        raise ValueError(
            f"Labels from {description} must be 0 (normal) or 1 (abnormal); found {bad.tolist()}."
        )
    return labels.astype(np.int64)


class Video:
    """One video: lazily decoded frames, per-frame labels, optional masks.

    Frames are decoded on first use, resized and converted to the requested
    channel count, and written once to the decode-once cache (a uint8 `.npy`
    file read through a memmap), so epochs after the first do not decode
    again and videos larger than RAM stream from disk. In-memory sources
    (synthetic data, arrays) are not written to disk; their resized versions
    are kept in memory.

    Frame counts are cross-checked between frames, labels and masks, and the
    mask size against the frame size, as soon as each is known; any mismatch
    raises a `ValueError` naming the files. Nothing is ever truncated.

    Args:
        name: the video's id (e.g. `"01"` or `"01_0014"`).
        frames: a `FrameSource` or a uint8 `(T, H, W[, C])` array (float
            arrays in [0, 1] are accepted and converted).
        labels: optional per-frame labels, an int array of shape `(T,)` with
            1 for abnormal frames. When `None` and `masks` is given, a frame
            is abnormal when any mask pixel is set.
        masks: optional per-pixel ground truth, a `FrameSource` of kind
            `"masks"` or a `(T, H, W)` array (non-zero = abnormal).
        label_source: words naming where the labels came from (a file), used
            in error messages.
        cache_dir: folder of the decode-once cache; `None` uses
            `$KERAS_SSMCTB_CACHE` or `~/.cache/keras_ssmctb`.
        metadata: optional dict of extra facts about the video (the
            synthetic generator stores its anomaly `events` there).

    Example:

    ```python
    video = Video("demo", np.zeros((10, 32, 32, 3), "uint8"), labels=np.zeros(10))
    video.load_frames(image_size=(16, 16), channels=1).shape  # (10, 16, 16, 1)
    ```
    """

    def __init__(
        self,
        name,
        frames,
        labels=None,
        masks=None,
        label_source=None,
        cache_dir=None,
        metadata=None,
    ):
        self.name = str(name)
        self.metadata = dict(metadata or {})
        self.frame_source = _as_source(frames, "frames")
        self.mask_source = None if masks is None else _as_source(masks, "masks")
        self.label_source = label_source or f"the labels of video '{self.name}'"
        self.cache_dir = cache_dir
        self._labels = None if labels is None else _validate_labels(labels, self.label_source)
        self._num_frames = self.frame_source.length_hint()
        self._frame_shape = None
        self._memo = {}
        self._check_count(self._num_frames, self.frame_source.description)
        if self.mask_source is not None:
            self._check_count(self.mask_source.length_hint(), self.mask_source.description)

    def __getstate__(self):
        # Cache entries are reopened on demand, not copied into the pickle.
        state = self.__dict__.copy()
        state["_memo"] = {k: v for k, v in self._memo.items() if not isinstance(v, np.memmap)}
        return state

    def __repr__(self):
        count = self._num_frames if self._num_frames is not None else "?"
        has_labels = self._labels is not None or self.mask_source is not None
        return (
            f"Video(name={self.name!r}, frames={count}, labels={has_labels}, "
            f"masks={self.mask_source is not None})"
        )

    def _check_count(self, count, what):
        """Raise when `count` items from `what` disagree with what is known."""
        if count is None:
            return
        known = []
        if self._num_frames is not None:
            known.append((self._num_frames, self.frame_source.description))
        if self._labels is not None:
            known.append((len(self._labels), self.label_source))
        if self.mask_source is not None and self.mask_source.length_hint() is not None:
            known.append((self.mask_source.length_hint(), self.mask_source.description))
        for other_count, other in known:
            if other_count != count:
                raise ValueError(
                    f"Video '{self.name}': {what} has {count} frames but {other} "
                    f"has {other_count} frames. Frame counts must match exactly."
                )

    @property
    def has_masks(self):
        return self.mask_source is not None

    @property
    def num_frames(self):
        """Number of frames (decodes the video once if it is not known yet)."""
        if self._num_frames is None:
            count = sum(1 for _ in self.frame_source)
            self._check_count(count, self.frame_source.description)
            self._num_frames = count
        return self._num_frames

    @property
    def frame_shape(self):
        """Native `(height, width, channels)` of the frames."""
        if self._frame_shape is None:
            self._frame_shape = tuple(self.frame_source.first().shape)
        return self._frame_shape

    @property
    def labels(self):
        """Per-frame labels, int64 `(T,)` (1 = abnormal), or `None` when unknown."""
        if self._labels is None and self.mask_source is not None:
            labels = np.array([int(mask.any()) for mask in self.mask_source], dtype=np.int64)
            self._check_count(len(labels), self.mask_source.description)
            self._labels = labels
            self.label_source = f"the masks {self.mask_source.description}"
        return self._labels

    def load_frames(self, image_size=None, channels=None):
        """Frames as a uint8 array `(T, height, width, channels)`.

        Args:
            image_size: `(height, width)` or an int for square frames; `None`
                keeps the native size. Shrinking uses area interpolation.
            channels: 1 (luma) or 3 (RGB); `None` keeps the native count.

        Returns:
            A read-only memmap (file sources) or an array (in-memory sources).
        """
        size = decoding.normalize_size(image_size)
        if channels not in (None, 1, 3):
            raise ValueError(f"`channels` must be 1, 3 or None. Received: {channels!r}")
        key = ("frames", size, channels)
        if key not in self._memo:
            native_hw = self.frame_shape[:2]
            frames = self._load(
                self.frame_source, key, lambda: self._transformed_frames(native_hw, size, channels)
            )
            self._check_count(len(frames), self.frame_source.description)
            self._num_frames = len(frames)
            self._memo[key] = frames
        return self._memo[key]

    def load_masks(self, image_size=None):
        """Masks as a uint8 0/1 array `(T, height, width)`, or `None` if absent.

        Args:
            image_size: `(height, width)` or an int; `None` keeps the native
                size. Resizing uses nearest-neighbour interpolation.
        """
        if self.mask_source is None:
            return None
        size = decoding.normalize_size(image_size)
        key = ("masks", size)
        if key not in self._memo:
            frame_hw = self.frame_shape[:2]
            masks = self._load(
                self.mask_source, key, lambda: self._transformed_masks(frame_hw, size)
            )
            self._check_count(len(masks), self.mask_source.description)
            self._memo[key] = masks
        return self._memo[key]

    @property
    def frames(self):
        """All frames at native size and channels (see `load_frames`)."""
        return self.load_frames()

    @property
    def masks(self):
        """All masks at native size (see `load_masks`), or `None`."""
        return self.load_masks()

    def _load(self, source, key, items):
        fingerprint = source.fingerprint()
        if fingerprint is None:
            return np.stack(list(items()))
        kind, size = key[0], key[1]
        size_tag = "native" if size is None else f"{size[0]}x{size[1]}"
        channel_tag = f"-c{key[2]}" if kind == "frames" and key[2] is not None else ""
        path = (
            cache.resolve_cache_dir(self.cache_dir)
            / f"{fingerprint}-{kind}-{size_tag}{channel_tag}.npy"
        )
        return cache.cached_uint8_stack(path, items)

    def _transformed_frames(self, native_hw, size, channels):
        source = self.frame_source
        for index, frame in enumerate(source):
            if frame.shape[:2] != native_hw:
                raise ValueError(
                    f"Video '{self.name}': {source.item_description(index)} has size "
                    f"{frame.shape[:2]} but the first frame has size {native_hw}."
                )
            yield decoding.convert_channels(decoding.resize_image(frame, size), channels)

    def _transformed_masks(self, frame_hw, size):
        source = self.mask_source
        for index, mask in enumerate(source):
            if mask.shape[:2] != frame_hw:
                raise ValueError(
                    f"Video '{self.name}': {source.item_description(index)} has size "
                    f"{mask.shape[:2]} (height, width) but the frames of "
                    f"{self.frame_source.description} have size {frame_hw}."
                )
            yield decoding.resize_mask(mask, size)


class VideoSplit(collections.abc.Sequence):
    """The videos of one split (train or test) of a data set.

    A sequence of `Video` objects with a few conveniences for evaluation.
    Every video reader and the synthetic generator return this type.

    Args:
        videos: a non-empty list of `Video`.
        name: a label such as `"avenue/test"`.

    Example:

    ```python
    split = make_synthetic_video("test")
    [video.name for video in split], split.labels[0].mean()
    ```
    """

    def __init__(self, videos, name="videos"):
        videos = list(videos)
        if not videos:
            raise ValueError(f"The split '{name}' holds no video.")
        for video in videos:
            if not isinstance(video, Video):
                raise ValueError(
                    f"VideoSplit expects Video objects. Received: {type(video).__name__}"
                )
        self.videos = videos
        self.name = name

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, index):
        return self.videos[index]

    def __repr__(self):
        return f"VideoSplit(name={self.name!r}, videos={len(self.videos)})"

    @property
    def names(self):
        return [video.name for video in self.videos]

    @property
    def labels(self):
        """Per-video label arrays (a list), or `None` if any video has none."""
        labels = [video.labels for video in self.videos]
        return None if any(label is None for label in labels) else labels

    @property
    def has_masks(self):
        return all(video.has_masks for video in self.videos)

    @property
    def num_frames(self):
        return [video.num_frames for video in self.videos]

    def load_masks(self, image_size=None):
        """Per-video masks at `image_size` (a list), for pixel-level metrics."""
        return [video.load_masks(image_size) for video in self.videos]
