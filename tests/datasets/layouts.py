"""Writers of tiny data sets in the real on-disk layouts, for the reader tests."""

import pathlib

import cv2
import numpy as np
import scipy.io


def frames(count, height=24, width=32, seed=0):
    """`count` distinct RGB frames; frame k has mean brightness growing with k."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60, size=(height, width, 3))
    return np.stack([np.clip(base + 8 * k, 0, 255) for k in range(count)]).astype(np.uint8)


def write_video(path, video_frames, fps=25):
    """Write RGB frames as an MJPG `.avi` (OpenCV's built-in encoder)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = video_frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in video_frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_images(folder, images, extension=".png", names=None):
    """Write images (RGB, grayscale or 0/1 masks scaled to 255) as files."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        name = names[index] if names is not None else f"{index:03d}"
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.max() <= 1:
            image = (np.asarray(image) > 0).astype(np.uint8) * 255
        if image.ndim == 3 and image.shape[-1] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        path = folder / f"{name}{extension}"
        assert cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def masks(count, height=24, width=32, abnormal=()):
    """0/1 masks; frames listed in `abnormal` get a 6×8 box."""
    out = np.zeros((count, height, width), dtype=np.uint8)
    for k in abnormal:
        out[k, 4:10, 6:14] = 1
    return out


def write_vol_label(path, video_masks):
    """An Avenue `N_label.mat`: a 1×T cell array `volLabel` of masks."""
    cell = np.empty((1, len(video_masks)), dtype=object)
    for k, mask in enumerate(video_masks):
        cell[0, k] = mask.astype(np.uint8)
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"volLabel": cell})
    return path


def write_interval_mat(path, intervals, variable="gt"):
    """A `pedN.mat`: `gt` is a 1×V cell array of 2×K [first; last] arrays."""
    cell = np.empty((1, len(intervals)), dtype=object)
    for v, pairs in enumerate(intervals):
        cell[0, v] = np.array(pairs, dtype=np.float64).T.reshape(2, -1)
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {variable: cell})
    return path
