"""Synthetic brain-like volumes with lesions: the built-in default volume data.

Each volume is a head-like ellipsoid on a dark background: a brighter
cortex shell, darker white matter, two dark ventricles, and smooth tissue
texture, with small random changes of shape and position per volume (as
between subjects). Abnormal volumes add one or two bright, irregular blobs
(lesions, as hyperintensities in a FLAIR scan) inside the brain; the mask
covers them. Values are float32 in [0, 1]. Seeded and deterministic.
"""

import numpy as np
from scipy import ndimage

from keras_ssmctb.datasets.volumes import VolumeSplit


def _grid(shape):
    return [
        np.linspace(-1.0, 1.0, n, dtype=np.float32).reshape([-1 if a == i else 1 for a in range(3)])
        for i, n in enumerate(shape)
    ]


def _brain(shape, rng):
    z, y, x = _grid(shape)
    radii = np.array([0.78, 0.72, 0.84]) * rng.uniform(0.93, 1.05, size=3)
    centre = rng.uniform(-0.04, 0.04, size=3)
    head = np.sqrt(
        ((z - centre[0]) / radii[0]) ** 2
        + ((y - centre[1]) / radii[1]) ** 2
        + ((x - centre[2]) / radii[2]) ** 2
    )
    texture = ndimage.gaussian_filter(rng.normal(size=shape), sigma=max(min(shape) / 16, 0.8))
    texture /= texture.std() + 1e-6
    volume = np.zeros(shape, dtype=np.float32)
    inside = head < 1.0
    volume[inside] = 0.5
    volume[(head >= 0.8) & inside] = 0.68  # cortex shell
    for side in (-1.0, 1.0):
        ventricle = np.sqrt(
            ((z - centre[0]) / (0.28 * radii[0])) ** 2
            + ((y - centre[1] + 0.05) / (0.16 * radii[1])) ** 2
            + ((x - centre[2] - side * 0.17) / (0.1 * radii[2])) ** 2
        )
        volume[ventricle < 1.0] = 0.18
    volume += inside * 0.04 * texture
    return np.clip(volume, 0.0, 1.0), head


def _lesion(shape, head, rng):
    z, y, x = _grid(shape)
    while True:
        centre = rng.uniform(-0.45, 0.45, size=3)
        if head[tuple(int(round((c + 1) / 2 * (n - 1))) for c, n in zip(centre, shape))] < 0.7:
            break
    radius = rng.uniform(0.12, 0.22)
    wobble = ndimage.gaussian_filter(rng.normal(size=shape), sigma=max(min(shape) / 10, 1.0))
    wobble /= np.abs(wobble).max() + 1e-6
    distance = (
        np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) / radius
        + 0.35 * wobble
    )
    return (distance < 1.0) & (head < 0.95)


def make_synthetic_volumes(
    split="train",
    num_volumes=None,
    volume_shape=(32, 32, 32),
    lesion_fraction=0.5,
    seed=0,
):
    """Generate brain-like volumes with lesion masks.

    Args:
        split: `"train"` (healthy volumes only) or `"test"` (a fraction
            `lesion_fraction` with one or two lesions each).
        num_volumes: number of volumes (default 16 for train, 8 for test).
        volume_shape: `(depth, height, width)`, each at least 16.
        lesion_fraction: fraction of abnormal test volumes.
        seed: the seed.

    Returns:
        A `VolumeSplit` of float32 `(D, H, W)` arrays in [0, 1] with uint8
        masks and labels (1 = has a lesion; always equal to `mask.any()`).

    Example:

    ```python
    test = make_synthetic_volumes("test")
    test.load_volume(0).shape, test.labels  # ((32, 32, 32, 1), ...)
    ```
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    try:
        shape = tuple(int(s) for s in volume_shape)
    except TypeError:
        raise ValueError(
            f"`volume_shape` must be (depth, height, width). Received: {volume_shape!r}"
        ) from None
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"`volume_shape` must be 3 sizes, each >= 16. Received: {volume_shape!r}")
    if not 0.0 <= lesion_fraction <= 1.0:
        raise ValueError(f"`lesion_fraction` must be in [0, 1]. Received: {lesion_fraction}")
    num_volumes = int(num_volumes if num_volumes is not None else (16 if split == "train" else 8))
    if num_volumes < 1:
        raise ValueError(f"`num_volumes` must be >= 1. Received: {num_volumes}")
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    num_abnormal = 0 if split == "train" else int(round(lesion_fraction * num_volumes))
    abnormal = np.zeros(num_volumes, dtype=bool)
    abnormal[rng.permutation(num_volumes)[:num_abnormal]] = True
    volumes, masks = [], []
    for index in range(num_volumes):
        volume, head = _brain(shape, rng)
        mask = np.zeros(shape, dtype=bool)
        if abnormal[index]:
            for _ in range(int(rng.integers(1, 3))):
                mask |= _lesion(shape, head, rng)
            texture = ndimage.gaussian_filter(rng.normal(size=shape), sigma=1.0)
            volume = np.where(mask, np.clip(0.92 + 0.05 * texture, 0.0, 1.0), volume)
        volumes.append(volume.astype(np.float32))
        masks.append(mask.astype(np.uint8))
    return VolumeSplit(
        volumes,
        labels=abnormal.astype(np.int64),
        masks=masks,
        names=[f"{i:03d}_{'lesion' if a else 'healthy'}" for i, a in enumerate(abnormal)],
        name=f"synthetic-volumes/{split}",
    )
