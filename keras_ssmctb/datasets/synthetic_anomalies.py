"""DRAEM's synthetic anomalies: Perlin-noise masks filled with a foreign texture.

DRAEM (Zavrtanik et al., ICCV 2021, Sec. 3.3) trains on normal images only:
each training image gets, with probability `anomaly_probability`, an
anomaly whose shape is a thresholded Perlin noise map and whose content
comes from an anomaly source image, blended in with a random opacity. The
model learns to reconstruct the clean image and to segment the mask.

The anomaly source is a random image of `anomaly_source_dir` (DRAEM uses the
DTD texture set) when given, else Perlin noise itself; either way it is
augmented with three randomly chosen Keras image-preprocessing layers
(DRAEM's imgaug list, mapped to Keras: contrast, brightness, sharpness,
solarisation, posterisation, inversion, auto-contrast, equalisation,
rotation, and hue/saturation for RGB). Volumes (for `DRAEM3D`) get 3D
Perlin masks and 3D Perlin-noise content.

Everything is numpy plus Keras layers called eagerly, so the dataset is
backend-agnostic; batch `i` of epoch `e` depends only on (`seed`, `e`, `i`).
"""

import itertools
import math
import pathlib

import cv2
import keras
import numpy as np

from keras_ssmctb.datasets.pipelines import check_batching
from keras_ssmctb.datasets.pipelines import check_drop_remainder
from keras_ssmctb.datasets.pipelines import num_batches

IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff")


def _fade(t):
    return t * t * t * (t * (t * 6 - 15) + 10)


def perlin_noise(shape, resolution, rng):
    """Perlin gradient noise on an N-D grid (2D or 3D), values in [-1, 1].

    The grid is divided into `resolution[i]` cells along axis i; random unit
    gradients sit on the lattice corners and each position blends the
    corners' dot products with the quintic fade 6t^5 - 15t^4 + 10t^3
    (Perlin, 2002), as DRAEM's `rand_perlin_2d_np` does, but vectorised for
    any rank and for sides that are not multiples of the resolution.

    Args:
        shape: tuple of ints, the output shape.
        resolution: tuple of ints >= 1, cells per axis.
        rng: a `numpy.random.Generator`.

    Returns:
        float32 array of `shape`.
    """
    shape = tuple(int(s) for s in shape)
    resolution = tuple(int(r) for r in resolution)
    if len(resolution) != len(shape) or min(resolution) < 1:
        raise ValueError(
            f"`resolution` needs one int >= 1 per axis of `shape` {shape}. "
            f"Received: resolution={resolution}"
        )
    rank = len(shape)
    gradients = rng.normal(size=tuple(r + 1 for r in resolution) + (rank,))
    gradients /= np.linalg.norm(gradients, axis=-1, keepdims=True) + 1e-12
    cells, fracs, fades = [], [], []
    for axis, (size, res) in enumerate(zip(shape, resolution)):
        position = np.arange(size) * (res / size)
        cell = np.floor(position).astype(np.int64)
        frac = position - cell
        view = [1] * rank
        view[axis] = size
        cells.append(cell)
        fracs.append(frac.reshape(view))
        fades.append(_fade(frac).reshape(view))
    noise = np.zeros(shape, dtype=np.float64)
    for corner in itertools.product((0, 1), repeat=rank):
        corner_gradients = gradients[np.ix_(*[cell + o for cell, o in zip(cells, corner)])]
        dot = sum(
            corner_gradients[..., axis] * (fracs[axis] - corner[axis]) for axis in range(rank)
        )
        weight = 1.0
        for axis in range(rank):
            weight = weight * (fades[axis] if corner[axis] else 1.0 - fades[axis])
        noise += weight * dot
    # The extreme of gradient noise with unit gradients is sqrt(rank) / 2.
    return np.clip(noise * (2.0 / math.sqrt(rank)), -1.0, 1.0).astype(np.float32)


def _augmenters(channels):
    """DRAEM's anomaly-source augmenters as Keras layer factories (seed -> layer)."""
    value_range = (0.0, 1.0)
    factories = [
        lambda seed: keras.layers.RandomContrast(0.5, value_range=value_range, seed=seed),
        lambda seed: keras.layers.RandomBrightness(0.2, value_range=value_range, seed=seed),
        lambda seed: keras.layers.RandomSharpness(0.5, value_range=value_range, seed=seed),
        lambda seed: keras.layers.Solarization(threshold_factor=(0.125, 0.5), value_range=value_range, seed=seed),
        lambda seed: keras.layers.RandomPosterization((1, 7), value_range=value_range, seed=seed),
        lambda seed: keras.layers.RandomInvert(1.0, value_range=value_range, seed=seed),
        lambda seed: keras.layers.AutoContrast(value_range=value_range),
        lambda seed: keras.layers.Equalization(value_range=value_range),
        lambda seed: keras.layers.RandomRotation(0.125, fill_mode="reflect", seed=seed),
    ]
    if channels == 3:
        factories += [
            lambda seed: keras.layers.RandomHue(0.15, value_range=value_range, seed=seed),
            lambda seed: keras.layers.RandomSaturation(0.3, value_range=value_range, seed=seed),
        ]
    return factories


def _list_images(folder):
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"`anomaly_source_dir` is not a folder: {folder}")
    files = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise FileNotFoundError(
            f"`anomaly_source_dir` holds no images ({', '.join(IMAGE_SUFFIXES)}): {folder}"
        )
    return files


def _read_texture(path, height, width, channels):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"Could not read anomaly source image: {path}")
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image.astype(np.float32) / 255.0


class DraemAnomalyDataset(keras.utils.PyDataset):
    """Normal images with DRAEM's synthetic anomalies: `(augmented, (clean, mask))`.

    For each image of a batch, with probability `anomaly_probability`: draw a
    Perlin noise map (2^a x 2^b cells, a and b uniform in
    `range(*perlin_scale)`; rotated by up to 90 degrees for 2D images),
    threshold it at `threshold` to get the mask M, draw an anomaly source A
    (a texture from `anomaly_source_dir`, else Perlin noise rescaled to
    [0, 1]) augmented by 3 random Keras preprocessing layers, and an opacity
    beta ~ U(0, `max_beta`); the augmented image is

        I_a = (1 - M) * I + (1 - beta) * M * A + beta * M * I

    (DRAEM, Eq. 3). Other images stay clean with an empty mask. With
    probability `rotation_probability` the normal image itself is first
    rotated by up to 90 degrees (DRAEM does this too). Volumes get 3D Perlin
    masks and 3D noise content, without the 2D augmenters and rotations.

    The batches match `DRAEM`/`DRAEM3D`'s `fit`: x = augmented images, y =
    (clean images, masks (batch, ..., 1) in {0, 1}), all float32 in [0, 1].

    Args:
        images: normal images in [0, 1]: a numpy array (N, H, W, C) or
            (N, D, H, W, C) (float, or uint8 which is divided by 255), or a
            sequence (`__len__`, `__getitem__`) of such images without the
            batch axis, e.g. a lazy reader.
        batch_size: images per batch (the last batch may be smaller).
        anomaly_source_dir: folder of texture images (searched recursively;
            read with OpenCV and resized to the image size), e.g. DTD's
            `images/`. None uses Perlin noise as the source. 2D images only.
        perlin_scale: (low, high): the noise has 2^k cells per axis with k
            uniform in [low, high) (default (0, 6), as DRAEM), capped at the
            side length.
        threshold: noise level above which a position is anomalous (0.5).
        anomaly_probability: fraction of images that get an anomaly (0.5).
        max_beta: upper bound of the opacity beta (0.8, as DRAEM).
        rotation_probability: probability of rotating the normal image
            (0.3, as DRAEM; 2D only; use 0 for orientation-sensitive data).
        shuffle: reshuffle the images every epoch (default True).
        seed: int seed; batch `i` of epoch `e` is a function of (seed, e, i).
        drop_remainder: leave out the last, smaller batch, as data-parallel
            training needs (every batch must split evenly over the devices).
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.

    Example:

    >>> import numpy as np
    >>> images = np.random.default_rng(0).uniform(size=(6, 32, 32, 1)).astype("float32")
    >>> dataset = DraemAnomalyDataset(images, batch_size=4, seed=1)
    >>> augmented, (clean, mask) = dataset[0]
    >>> augmented.shape, clean.shape, mask.shape, len(dataset)
    ((4, 32, 32, 1), (4, 32, 32, 1), (4, 32, 32, 1), 2)

    Reference:
        Zavrtanik, Kristan, Skocaj, "DRAEM - A Discriminatively Trained
        Reconstruction Embedding for Surface Anomaly Detection", ICCV 2021.
    """

    def __init__(
        self,
        images,
        batch_size=8,
        anomaly_source_dir=None,
        perlin_scale=(0, 6),
        threshold=0.5,
        anomaly_probability=0.5,
        max_beta=0.8,
        rotation_probability=0.3,
        shuffle=True,
        seed=0,
        drop_remainder=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_batching(batch_size, shuffle)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        try:
            low, high = (int(v) for v in perlin_scale)
        except (TypeError, ValueError):
            low = high = None
        if low is None or not 0 <= low < high:
            raise ValueError(
                f"`perlin_scale` must be (low, high) ints with 0 <= low < high. "
                f"Received: perlin_scale={perlin_scale!r}"
            )
        for name, value in (
            ("threshold", threshold),
            ("anomaly_probability", anomaly_probability),
            ("max_beta", max_beta),
            ("rotation_probability", rotation_probability),
        ):
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}")

        self.images = images
        self.num_images = len(images)
        if self.num_images == 0:
            raise ValueError("`images` is empty.")
        first = self._image(0)
        self.image_shape = first.shape
        if first.ndim not in (3, 4):
            raise ValueError(
                f"Each image must be (H, W, C) or a volume (D, H, W, C); add a channel "
                f"axis to grayscale data (`images[..., None]`). Received image shape "
                f"{first.shape}"
            )
        self.spatial_rank = first.ndim - 1
        self.channels = first.shape[-1]
        if isinstance(images, np.ndarray) and images.dtype != np.uint8:
            low_value, high_value = float(images.min()), float(images.max())
            if low_value < 0.0 or high_value > 1.0:
                raise ValueError(
                    f"`images` must lie in [0, 1] (DRAEM's value range). Received values "
                    f"in [{low_value:.3g}, {high_value:.3g}]"
                )
        self.texture_files = None
        if anomaly_source_dir is not None:
            if self.spatial_rank != 2:
                raise ValueError(
                    "`anomaly_source_dir` (texture images) applies to 2D images; volumes "
                    "use 3D Perlin noise as the anomaly source. Pass anomaly_source_dir=None."
                )
            if self.channels not in (1, 3):
                raise ValueError(
                    f"Texture anomaly sources need images with 1 or 3 channels. "
                    f"Received: {self.channels} channels"
                )
            self.texture_files = _list_images(anomaly_source_dir)
        self.batch_size = int(batch_size)
        self.anomaly_source_dir = anomaly_source_dir
        self.perlin_scale = (low, high)
        self.threshold = float(threshold)
        self.anomaly_probability = float(anomaly_probability)
        self.max_beta = float(max_beta)
        self.rotation_probability = float(rotation_probability)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.drop_remainder = check_drop_remainder(drop_remainder, self.num_images, self.batch_size)

    def __len__(self):
        return num_batches(self.num_images, self.batch_size, self.drop_remainder)

    def on_epoch_end(self):
        self.epoch += 1

    def _image(self, index):
        image = np.asarray(self.images[index])
        if image.dtype == np.uint8:
            return image.astype(np.float32) / 255.0
        return image.astype(np.float32)

    def _order(self):
        if not self.shuffle:
            return np.arange(self.num_images)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.num_images)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        rows = self._order()[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clean, augmented, masks = [], [], []
        for row in rows:
            image = self._image(row)
            if image.shape != self.image_shape:
                raise ValueError(
                    f"All images must have the first image's shape {self.image_shape}. "
                    f"Image {row} has {image.shape}"
                )
            sample_seed = int(rng.integers(2**31 - 1))
            if self.spatial_rank == 2 and rng.uniform() < self.rotation_probability:
                rotation = keras.layers.RandomRotation(0.25, fill_mode="constant", seed=sample_seed)
                image = np.asarray(
                    keras.ops.convert_to_numpy(rotation(image[None], training=True))[0]
                )
            image = np.clip(image, 0.0, 1.0)
            if rng.uniform() < self.anomaly_probability:
                anomalous, mask = self._add_anomaly(image, rng, sample_seed)
            else:
                anomalous, mask = image, np.zeros(image.shape[:-1] + (1,), np.float32)
            clean.append(image)
            augmented.append(anomalous)
            masks.append(mask)
        return (
            np.stack(augmented).astype(np.float32),
            (np.stack(clean).astype(np.float32), np.stack(masks).astype(np.float32)),
        )

    def _resolution(self, rng, spatial):
        low, high = self.perlin_scale
        return tuple(min(2 ** int(rng.integers(low, high)), side) for side in spatial)

    def _noise_mask(self, rng, spatial, seed):
        noise = perlin_noise(spatial, self._resolution(rng, spatial), rng)
        if self.spatial_rank == 2:
            rotation = keras.layers.RandomRotation(
                0.25, fill_mode="constant", fill_value=-1.0, seed=seed
            )
            noise = keras.ops.convert_to_numpy(rotation(noise[None, ..., None], training=True))[0]
        else:
            noise = noise[..., None]
        return (noise > self.threshold).astype(np.float32)

    def _anomaly_source(self, rng, spatial, seed):
        if self.texture_files is not None:
            path = self.texture_files[int(rng.integers(len(self.texture_files)))]
            source = _read_texture(path, spatial[0], spatial[1], self.channels)
        else:
            fields = []
            for _ in range(self.channels):
                field = perlin_noise(spatial, self._resolution(rng, spatial), rng)
                fields.append((field - field.min()) / (field.max() - field.min() + 1e-6))
            source = np.stack(fields, axis=-1)
        if self.spatial_rank == 2:
            augmenters = _augmenters(self.channels)
            for offset, choice in enumerate(rng.choice(len(augmenters), size=3, replace=False)):
                layer = augmenters[choice](seed + offset)
                source = keras.ops.convert_to_numpy(layer(source[None], training=True))[0]
        return np.clip(np.asarray(source, np.float32), 0.0, 1.0)

    def _add_anomaly(self, image, rng, seed):
        spatial = image.shape[:-1]
        mask = self._noise_mask(rng, spatial, seed)
        source = self._anomaly_source(rng, spatial, seed + 1)
        beta = rng.uniform(0.0, self.max_beta)
        augmented = (1.0 - mask) * image + (1.0 - beta) * mask * source + beta * mask * image
        return np.clip(augmented, 0.0, 1.0), mask
