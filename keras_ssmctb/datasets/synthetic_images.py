"""Synthetic defect images: the built-in default image data.

A regular surface texture (a woven pattern of two gratings plus smooth
variation and grain, its look fixed by `seed`, like one MVTec AD category)
with, in abnormal images, one defect of the kinds industrial inspection
sees: a scratch, a hole, a stain or a crack. The mask covers the defect's
pixels. Seeded and deterministic.
"""

import numpy as np
from scipy import ndimage

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.images import ImageSplit

DEFECT_KINDS = ("scratch", "hole", "stain", "crack")


def _texture_style(rng):
    return {
        "angles": rng.uniform(0, np.pi, size=2),
        "periods": rng.uniform(5.0, 9.0, size=2),
        "base": rng.uniform(90, 160, size=3),
        "tint": rng.uniform(-25, 25, size=3),
    }


def _texture(style, height, width, rng):
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    pattern = np.zeros((height, width), dtype=np.float32)
    for angle, period in zip(style["angles"], style["periods"]):
        phase = rng.uniform(0, 2 * np.pi)
        pattern += np.sin(
            2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle)) / period + phase
        )
    smooth = ndimage.gaussian_filter(rng.normal(size=(height, width)), sigma=max(height / 10, 1.0))
    smooth /= smooth.std() + 1e-6
    grain = rng.normal(size=(height, width))
    luma = 14.0 * pattern + 8.0 * smooth + 4.0 * grain
    image = (
        style["base"][None, None, :]
        + luma[..., None]
        + (pattern[..., None] > 0) * style["tint"] * 0.3
    )
    return image


def _line_mask(height, width, points, thickness):
    """Anti-aliased polyline coverage in [0, 1] of the given thickness (pixels)."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    distance = np.full((height, width), np.inf, dtype=np.float32)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        dy, dx = y1 - y0, x1 - x0
        length2 = dy * dy + dx * dx + 1e-9
        t = np.clip(((rows - y0) * dy + (cols - x0) * dx) / length2, 0.0, 1.0)
        distance = np.minimum(distance, np.hypot(rows - (y0 + t * dy), cols - (x0 + t * dx)))
    return np.clip(thickness / 2 + 0.5 - distance, 0.0, 1.0)


def _defect(kind, image, rng):
    """Paint one defect on `image` (float, modified in place); return its coverage."""
    height, width = image.shape[:2]
    scale = min(height, width)
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
    if kind == "scratch":
        angle = rng.uniform(0, np.pi)
        half = rng.uniform(0.18, 0.32) * scale
        points = [
            (cy - half * np.sin(angle), cx - half * np.cos(angle)),
            (cy + half * np.sin(angle), cx + half * np.cos(angle)),
        ]
        coverage = _line_mask(height, width, points, thickness=max(1.2, scale / 40))
        color = np.full(3, 235.0)
    elif kind == "hole":
        ry, rx = rng.uniform(0.05, 0.11, size=2) * scale
        distance = np.sqrt(((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2)
        coverage = np.clip(0.5 - (distance - 1.0) * min(rx, ry), 0.0, 1.0)
        color = np.full(3, 25.0)
    elif kind == "stain":
        radius = rng.uniform(0.1, 0.16) * scale
        blob = ndimage.gaussian_filter(rng.normal(size=(height, width)), sigma=max(scale / 16, 1.0))
        blob /= np.abs(blob).max() + 1e-6
        distance = np.hypot(rows - cy, cols - cx) / radius + 0.6 * blob
        coverage = np.clip((1.0 - distance) * radius / 2 + 0.5, 0.0, 1.0)
        color = np.array([150.0, 95.0, 30.0]) + rng.uniform(-20, 20, size=3)
        coverage *= 0.85
    elif kind == "crack":
        points = [(cy, cx)]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(8):
            heading += rng.normal(0, 0.6)
            step = scale * 0.05
            y, x = points[-1]
            points.append((y + step * np.sin(heading), x + step * np.cos(heading)))
        coverage = _line_mask(height, width, points, thickness=max(1.0, scale / 64))
        color = np.full(3, 15.0)
    else:
        raise ValueError(f"Unknown defect kind {kind!r}; expected one of {DEFECT_KINDS}.")
    image += coverage[..., None] * (color - image)
    return coverage


def make_synthetic_images(
    split="train",
    num_images=None,
    image_size=(64, 64),
    channels=3,
    anomaly_fraction=0.5,
    seed=0,
):
    """Generate textured surface images with defects and pixel masks.

    Args:
        split: `"train"` (normal images only) or `"test"` (a fraction
            `anomaly_fraction` of abnormal images, defect kinds cycling
            through `DEFECT_KINDS`).
        num_images: number of images (default 64 for train, 32 for test).
        image_size: `(height, width)` or an int; at least 16 a side.
        channels: 3 (RGB) or 1 (luma).
        anomaly_fraction: fraction of abnormal test images.
        seed: the seed; the texture's look depends on `seed` only, so the
            splits of one seed show the same surface.

    Returns:
        An `ImageSplit` of in-memory uint8 images with labels and masks (a
        pixel is abnormal where the defect covers at least half of it).
        Abnormal images are named `NNN_<kind>`, normal ones `NNN_good`.

    Example:

    ```python
    test = make_synthetic_images("test")
    test.load_images(64).shape, test.labels.mean()  # ((32, 64, 64, 3), 0.5)
    ```
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    height, width = decoding.normalize_size(image_size)
    if min(height, width) < 16:
        raise ValueError(f"`image_size` must be at least 16 a side. Received: {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
    if not 0.0 <= anomaly_fraction <= 1.0:
        raise ValueError(f"`anomaly_fraction` must be in [0, 1]. Received: {anomaly_fraction}")
    num_images = int(num_images if num_images is not None else (64 if split == "train" else 32))
    if num_images < 1:
        raise ValueError(f"`num_images` must be >= 1. Received: {num_images}")
    style = _texture_style(np.random.default_rng([seed, 0]))
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    num_abnormal = 0 if split == "train" else int(round(anomaly_fraction * num_images))
    abnormal = np.zeros(num_images, dtype=bool)
    abnormal[rng.permutation(num_images)[:num_abnormal]] = True
    images, masks, names = [], [], []
    kind_index = 0
    for index in range(num_images):
        image = _texture(style, height, width, rng)
        mask = np.zeros((height, width), dtype=np.uint8)
        name = f"{index:03d}_good"
        if abnormal[index]:
            kind = DEFECT_KINDS[kind_index % len(DEFECT_KINDS)]
            kind_index += 1
            mask = (_defect(kind, image, rng) >= 0.5).astype(np.uint8)
            name = f"{index:03d}_{kind}"
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        images.append(decoding.convert_channels(image, channels))
        masks.append(mask)
        names.append(name)
    return ImageSplit(
        np.stack(images),
        abnormal.astype(np.int64),
        masks=np.stack(masks),
        names=names,
        name=f"synthetic-images/{split}",
    )
