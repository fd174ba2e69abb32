"""`keras.utils.PyDataset` pipelines: frame clips, images and volumes.

Backend-agnostic (numpy batches, channels_last), usable with `fit`,
`predict` and `evaluate` on TensorFlow, JAX and PyTorch, with the usual
`workers` / `use_multiprocessing` / `max_queue_size` arguments.
"""

import math

import keras
import numpy as np
from scipy import ndimage

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.images import ImageSplit
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.volumes import VolumeSplit

_VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0))


def _check_value_range(value_range):
    try:
        value_range = tuple(float(v) for v in value_range)
    except TypeError:
        value_range = None
    if value_range not in _VALUE_RANGES:
        raise ValueError(f"`value_range` must be (0, 1) or (-1, 1). Received: {value_range!r}")
    return value_range


def _scale_uint8(batch, value_range):
    batch = batch.astype(np.float32)
    if value_range == (0.0, 1.0):
        return batch / 255.0
    return batch / 127.5 - 1.0


def num_batches(num_samples, batch_size, drop_remainder=False):
    """Batches per epoch: the last, smaller batch counts unless `drop_remainder`."""
    if drop_remainder:
        return num_samples // batch_size
    return math.ceil(num_samples / batch_size)


def check_drop_remainder(drop_remainder, num_samples, batch_size):
    if not isinstance(drop_remainder, bool):
        raise ValueError(f"`drop_remainder` must be True or False. Received: {drop_remainder!r}")
    if drop_remainder and num_samples < batch_size:
        raise ValueError(
            f"drop_remainder=True with batch_size={batch_size} leaves no batch: there are only "
            f"{num_samples} samples. Use a smaller `batch_size`."
        )
    return drop_remainder


def check_batching(batch_size, shuffle):
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"`batch_size` must be a positive int. Received: {batch_size!r}")
    if not isinstance(shuffle, bool):
        raise ValueError(f"`shuffle` must be True or False. Received: {shuffle!r}")


class FrameClipDataset(keras.utils.PyDataset):
    """Clips of consecutive frames and their target frame, batched for a video model.

    Each sample is T = `num_input_frames` consecutive frames stacked on the
    channel axis in time order (oldest first) and one target frame:

    - `task="prediction"` (future-frame prediction, Liu et al.; MNAD): the
      inputs are frames `t-T … t-1`, the target is frame `t`, for
      `t = T … n-1`.
    - `task="reconstruction"` (a frame autoencoder): the inputs are frames
      `t-T+1 … t`, the target is the last of them, frame `t`, for
      `t = T-1 … n-1`.

    The first T frames (prediction) or T-1 frames (reconstruction) of each
    video are never a target, so a model gives them no score. Evaluation
    drops them from the metrics, for every method alike (the usual
    practice): `target_labels()` and `target_masks()` return the ground
    truth of exactly the scored frames, and `group_by_video(values)` splits
    per-sample outputs (e.g. PSNR) into per-video arrays aligned with them.
    `sample_index` gives each sample's `(video index, target frame index)`.

    Frames are decoded once per video into the decode-once cache at
    `image_size` and `channels` (see `Video.load_frames`) when the dataset is
    built; batches are read from memory-mapped files, so epochs after the
    first do not decode again and data larger than RAM streams.

    Args:
        videos: a `VideoSplit` (or a list of `Video`).
        num_input_frames: T, the number of input frames per clip.
        image_size: `(height, width)` or an int.
        value_range: `(0, 1)` or `(-1, 1)`: the range pixels are scaled to.
        batch_size: samples per batch (the last batch may be smaller).
        task: `"prediction"` or `"reconstruction"` (see above).
        channels: 1 (grayscale, converted from RGB by luma) or 3 (RGB).
        shuffle: shuffle the samples (again at every epoch end). Keep it
            `False` for evaluation so that outputs follow `sample_index`.
        seed: seed of the shuffle.
        drop_remainder: leave out the last, smaller batch (each epoch then
            misses the `num_samples % batch_size` samples that the shuffle
            put last). Data-parallel training needs it: every batch must
            split evenly over the devices.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of
            `keras.utils.PyDataset`.

    Each batch is `(x, y)`: x of shape `(B, H, W, T * channels)`, y of shape
    `(B, H, W, channels)`, float32, channels_last.

    Example:

    ```python
    train = make_synthetic_video("train")
    dataset = FrameClipDataset(train, num_input_frames=4, image_size=64, batch_size=8)
    x, y = dataset[0]  # (8, 64, 64, 4), (8, 64, 64, 1)
    ```
    """

    def __init__(
        self,
        videos,
        num_input_frames=4,
        image_size=(64, 64),
        value_range=(0.0, 1.0),
        batch_size=8,
        task="prediction",
        channels=1,
        shuffle=False,
        seed=None,
        drop_remainder=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        videos = list(videos)
        if not videos or not all(isinstance(v, Video) for v in videos):
            raise ValueError("`videos` must be a non-empty VideoSplit or list of Video objects.")
        if not isinstance(num_input_frames, (int, np.integer)) or num_input_frames < 1:
            raise ValueError(
                f"`num_input_frames` must be a positive int. Received: {num_input_frames!r}"
            )
        if task not in ("prediction", "reconstruction"):
            raise ValueError(f"`task` must be 'prediction' or 'reconstruction'. Received: {task!r}")
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
        check_batching(batch_size, shuffle)
        self.videos = videos
        self.num_input_frames = int(num_input_frames)
        self.image_size = decoding.normalize_size(image_size)
        if self.image_size is None:
            raise ValueError("`image_size` is required.")
        self.value_range = _check_value_range(value_range)
        self.batch_size = int(batch_size)
        self.task = task
        self.channels = channels
        self.shuffle = shuffle
        self.seed = seed
        # The first frame index that can be a target.
        self.first_target = (
            self.num_input_frames if task == "prediction" else self.num_input_frames - 1
        )
        self._frames = [v.load_frames(self.image_size, channels) for v in videos]
        index = []
        for video_index, frames in enumerate(self._frames):
            if len(frames) <= self.first_target:
                raise ValueError(
                    f"Video '{videos[video_index].name}' has {len(frames)} frames; a clip for "
                    f"task='{task}' with num_input_frames={num_input_frames} needs at least "
                    f"{self.first_target + 1}."
                )
            targets = np.arange(self.first_target, len(frames))
            index.append(np.stack([np.full_like(targets, video_index), targets], axis=1))
        self.sample_index = np.concatenate(index).astype(np.int64)
        self.drop_remainder = check_drop_remainder(drop_remainder, len(self.sample_index), self.batch_size)
        self._rng = np.random.default_rng(seed)
        self._order = (
            self._rng.permutation(len(self.sample_index))
            if shuffle
            else np.arange(len(self.sample_index))
        )

    def __len__(self):
        return num_batches(len(self.sample_index), self.batch_size, self.drop_remainder)

    @property
    def num_samples(self):
        return len(self.sample_index)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        offsets = (
            np.arange(-self.num_input_frames, 0)
            if self.task == "prediction"
            else np.arange(-self.num_input_frames + 1, 1)
        )
        height, width = self.image_size
        c, t = self.channels, self.num_input_frames
        x = np.empty((len(rows), height, width, t * c), dtype=np.uint8)
        y = np.empty((len(rows), height, width, c), dtype=np.uint8)
        for slot, row in enumerate(rows):
            video_index, target = self.sample_index[row]
            frames = self._frames[video_index]
            clip = frames[target + offsets]  # (T, H, W, C)
            x[slot] = np.moveaxis(clip, 0, 2).reshape(height, width, t * c)
            y[slot] = frames[target]
        return _scale_uint8(x, self.value_range), _scale_uint8(y, self.value_range)

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.sample_index))

    def __getstate__(self):
        # Worker processes reopen the cache files instead of receiving copies.
        state = self.__dict__.copy()
        state["_frames"] = [_memmap_reference(frames) for frames in self._frames]
        return state

    def __setstate__(self, state):
        state["_frames"] = [_reopen(frames) for frames in state["_frames"]]
        self.__dict__.update(state)

    def target_frame_indices(self):
        """Per video, the frame indices that are targets (in sample order)."""
        return [np.arange(self.first_target, len(frames)) for frames in self._frames]

    def group_by_video(self, values):
        """Split per-sample `values` (in `sample_index` order) into per-video arrays.

        Args:
            values: array of length `num_samples`, e.g. the PSNR of each
                prediction from `model.predict(dataset)` with `shuffle=False`.

        Returns:
            A list with one array per video, aligned with `target_labels()`.
        """
        values = np.asarray(values)
        if len(values) != self.num_samples:
            raise ValueError(
                f"`values` has {len(values)} entries but the dataset has "
                f"{self.num_samples} samples."
            )
        if self.shuffle:
            raise ValueError(
                "`group_by_video` needs shuffle=False, so that outputs follow `sample_index`."
            )
        bounds = np.cumsum([len(f) - self.first_target for f in self._frames])[:-1]
        return np.split(values, bounds)

    def target_labels(self):
        """Per video, the labels of the target frames (first frames dropped)."""
        labels = []
        for video in self.videos:
            if video.labels is None:
                raise ValueError(f"Video '{video.name}' has no labels.")
            labels.append(video.labels[self.first_target :])
        return labels

    def target_masks(self):
        """Per video, the masks of the target frames at `image_size` (or `None`)."""
        masks = []
        for video in self.videos:
            video_masks = video.load_masks(self.image_size)
            masks.append(
                None if video_masks is None else np.asarray(video_masks[self.first_target :])
            )
        return masks


class ImageDataset(keras.utils.PyDataset):
    """Batches of images resized to `image_size`, optionally with targets.

    Images are decoded and resized once into the decode-once cache (file
    based splits) when the dataset is built.

    Args:
        images: an `ImageSplit`.
        image_size: `(height, width)` or an int.
        channels: 1 or 3.
        batch_size: images per batch (the last batch may be smaller).
        targets: what each batch pairs the images with: `None` (batches are
            just `x`, for `predict`, or `fit` with models that add their own
            losses), `"image"` (`(x, x)`, an autoencoder target), `"mask"`
            (`(x, mask)` with masks `(B, H, W, 1)` in {0, 1}) or `"label"`
            (`(x, labels)`).
        value_range: `(0, 1)` (default) or `(-1, 1)`.
        shuffle: shuffle at every epoch (keep `False` for evaluation).
        seed: seed of the shuffle.
        cache_dir: decode-once cache folder.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Example:

    ```python
    dataset = ImageDataset(make_synthetic_images("test"), image_size=64, targets="mask")
    x, mask = dataset[0]  # (8, 64, 64, 3), (8, 64, 64, 1)
    ```
    """

    def __init__(
        self,
        images,
        image_size=(256, 256),
        channels=3,
        batch_size=8,
        targets=None,
        value_range=(0.0, 1.0),
        shuffle=False,
        seed=None,
        cache_dir=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(images, ImageSplit):
            raise ValueError(f"`images` must be an ImageSplit. Received: {type(images).__name__}")
        if targets not in (None, "image", "mask", "label"):
            raise ValueError(
                f"`targets` must be None, 'image', 'mask' or 'label'. Received: {targets!r}"
            )
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
        check_batching(batch_size, shuffle)
        self.split = images
        self.image_size = decoding.normalize_size(image_size)
        self.channels = channels
        self.batch_size = int(batch_size)
        self.targets = targets
        self.value_range = _check_value_range(value_range)
        self.shuffle = shuffle
        self.images = images.load_images(self.image_size, channels, cache_dir=cache_dir)
        self.masks = (
            images.load_masks(self.image_size, cache_dir=cache_dir) if targets == "mask" else None
        )
        self.labels = images.labels
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(images)) if shuffle else np.arange(len(images))

    def __len__(self):
        return num_batches(len(self.split), self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = _scale_uint8(np.asarray(self.images[rows]), self.value_range)
        if self.targets is None:
            return x
        if self.targets == "image":
            return x, x
        if self.targets == "mask":
            return x, np.asarray(self.masks[rows], dtype=np.float32)[..., None]
        return x, self.labels[rows].astype(np.float32)

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.split))


class VolumeDataset(keras.utils.PyDataset):
    """Batches of volumes resized to `volume_shape`, optionally with targets.

    Volumes are loaded, min-max normalised per volume to [0, 1] and resized
    (trilinear; masks nearest) once, when the dataset is built, and kept in
    memory (volume data sets at model resolution are small).

    Args:
        volumes: a `VolumeSplit`.
        volume_shape: `(depth, height, width)`.
        batch_size: volumes per batch.
        targets: `None`, `"volume"` (`(x, x)`), `"mask"` (`(x, mask)`,
            masks `(B, D, H, W, 1)`) or `"label"`.
        shuffle: shuffle at every epoch.
        seed: seed of the shuffle.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Batches hold x of shape `(B, D, H, W, C)`, float32 in [0, 1].
    """

    def __init__(
        self,
        volumes,
        volume_shape=(32, 32, 32),
        batch_size=4,
        targets=None,
        shuffle=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(volumes, VolumeSplit):
            raise ValueError(f"`volumes` must be a VolumeSplit. Received: {type(volumes).__name__}")
        if targets not in (None, "volume", "mask", "label"):
            raise ValueError(
                f"`targets` must be None, 'volume', 'mask' or 'label'. Received: {targets!r}"
            )
        shape = tuple(int(s) for s in volume_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(
                f"`volume_shape` must be (depth, height, width). Received: {volume_shape!r}"
            )
        check_batching(batch_size, shuffle)
        if targets == "label" and volumes.labels is None:
            raise ValueError("targets='label' needs labels or masks in the VolumeSplit.")
        self.split = volumes
        self.volume_shape = shape
        self.batch_size = int(batch_size)
        self.targets = targets
        self.shuffle = shuffle
        arrays = []
        for i in range(len(volumes)):
            volume = volumes.load_volume(i)
            low, high = volume.min(), volume.max()
            volume = (volume - low) / (high - low) if high > low else np.zeros_like(volume)
            arrays.append(_resize_volume(volume, shape, order=1))
        channels = {a.shape[-1] for a in arrays}
        if len(channels) != 1:
            raise ValueError(
                f"Volumes of '{volumes.name}' have different channel counts: {sorted(channels)}."
            )
        self.volumes = np.stack(arrays).astype(np.float32)
        self.masks = None
        if targets == "mask":
            self.masks = np.stack(
                [
                    _resize_volume(volumes.load_mask(i)[..., None], shape, order=0)
                    for i in range(len(volumes))
                ]
            ).astype(np.float32)
        self.labels = volumes.labels
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(volumes)) if shuffle else np.arange(len(volumes))

    def __len__(self):
        return num_batches(len(self.split), self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.volumes[rows]
        if self.targets is None:
            return x
        if self.targets == "volume":
            return x, x
        if self.targets == "mask":
            return x, self.masks[rows]
        return x, self.labels[rows].astype(np.float32)

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(len(self.split))


def _memmap_reference(array):
    if isinstance(array, np.memmap) and array.filename:
        return ("memmap", array.filename)
    return array


def _reopen(value):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "memmap":
        return np.load(value[1], mmap_mode="r")
    return value


def _resize_volume(volume, shape, order):
    """Resize a `(D, H, W, C)` volume to `shape + (C,)` (spline `order`)."""
    if volume.shape[:3] == shape:
        return volume
    factors = [s / n for s, n in zip(shape, volume.shape[:3])] + [1.0]
    resized = ndimage.zoom(volume, factors, order=order, grid_mode=True, mode="nearest")
    return resized
