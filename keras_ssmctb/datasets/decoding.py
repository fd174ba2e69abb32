"""Decoding image files, mask files and video files into uint8 numpy arrays.

Every reader goes through these functions, so that an unreadable file, a
missing folder or an empty folder fails the same way everywhere: with an
error that names the file or folder and says what was expected.

Conventions: colour frames are RGB (OpenCV's BGR is converted), shape
`(height, width, 3)`; single-channel frames keep a channel axis,
`(height, width, 1)`; masks are `(height, width)` uint8 arrays of 0/1. Mask
image files are binarised at half the 8-bit range (a pixel is set when any
channel is >= 128, which ignores the faint anti-aliased edges some data sets
have), except files whose values are only 0 and 1, where 1 is set.
"""

import pathlib
import re

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v")


def natural_sort_key(path):
    """Sort key that orders `2.jpg` before `10.jpg` (digit runs compare as ints)."""
    name = pathlib.Path(path).name
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def require_dir(directory, what):
    """Return `directory` as a `Path`, or raise `FileNotFoundError` naming `what`."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} not found: expected a folder at '{directory}'.")
    return directory


def require_file(path, what):
    """Return `path` as a `Path`, or raise `FileNotFoundError` naming `what`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: expected a file at '{path}'.")
    return path


def _visible(path):
    # Hidden files (".DS_Store", macOS "._x" resource forks) are never data.
    return not path.name.startswith(".")


def list_files(directory, extensions, what):
    """Naturally sorted files of `directory` whose suffix is in `extensions`.

    Args:
        directory: the folder to list.
        extensions: lower-case suffixes including the dot, e.g. `(".jpg",)`.
        what: words for the error messages, e.g. `"frames of test video 01"`.

    Returns:
        A list of `pathlib.Path`.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: the folder holds no file with one of `extensions`.
    """
    directory = require_dir(directory, what)
    files = [
        p
        for p in directory.iterdir()
        if p.is_file() and _visible(p) and p.suffix.lower() in extensions
    ]
    if not files:
        raise ValueError(
            f"{what}: the folder '{directory}' holds no file with extension "
            f"{', '.join(extensions)}."
        )
    return sorted(files, key=natural_sort_key)


def list_subdirs(directory, what, exclude_suffix=None):
    """Naturally sorted sub-folders of `directory` (hidden ones skipped).

    Args:
        directory: the folder to list.
        what: words for the error messages.
        exclude_suffix: sub-folders whose name ends with it are skipped
            (UCSD's `Test001_gt` mask folders).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: it has no sub-folder.
    """
    directory = require_dir(directory, what)
    subdirs = [
        p
        for p in directory.iterdir()
        if p.is_dir() and _visible(p) and not (exclude_suffix and p.name.endswith(exclude_suffix))
    ]
    if not subdirs:
        raise ValueError(f"{what}: the folder '{directory}' has no sub-folder.")
    return sorted(subdirs, key=natural_sort_key)


def read_image(path):
    """Decode an image file to uint8 RGB `(H, W, 3)` or grayscale `(H, W, 1)`.

    16-bit images are scaled to 8 bits and an alpha channel is dropped.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a decodable image.
    """
    path = require_file(path, "image")
    # imdecode on the raw bytes also handles non-ASCII paths.
    image = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"Could not decode the image file '{path}'.")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(
            f"Unsupported pixel type {image.dtype} in '{path}'; expected 8 or 16 bits."
        )
    if image.ndim == 2:
        return image[..., None]
    if image.shape[-1] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[-1] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[-1] == 1:
        return image
    raise ValueError(f"Unsupported channel count {image.shape[-1]} in '{path}'.")


def read_mask(path):
    """Decode a mask image to a `(H, W)` uint8 array of 0/1.

    A pixel is set when any channel is >= 128; a mask whose values are only
    0 and 1 is used as it is.
    """
    image = read_image(path)
    threshold = 1 if image.max() <= 1 else 128
    return np.any(image >= threshold, axis=-1).astype(np.uint8)


def iter_video_frames(path):
    """Yield the frames of a video file as uint8 RGB `(H, W, 3)` arrays.

    Decoding uses OpenCV. The whole video is never held in memory.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: OpenCV cannot open the file, it decodes no frame, or it
            decodes fewer frames than its container declares (a truncated or
            damaged file; never silently shortened).
    """
    path = require_file(path, "video file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"Could not open the video file '{path}' for decoding.")
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise ValueError(f"The video file '{path}' decoded to zero frames.")
        if declared > 0 and count < declared:
            raise ValueError(
                f"The video file '{path}' declares {declared} frames but only "
                f"{count} could be decoded; the file looks truncated or damaged."
            )
    finally:
        capture.release()


def read_first_video_frame(path):
    """Decode only the first frame of a video file (for its shape)."""
    path = require_file(path, "video file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"Could not open the video file '{path}' for decoding.")
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise ValueError(f"The video file '{path}' decoded to zero frames.")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def normalize_size(size, name="image_size"):
    """`None`, an int (square) or `(height, width)` -> `None` or a tuple of ints."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be an int or a (height, width) pair. Received: {size!r}"
        ) from None
    if height < 1 or width < 1:
        raise ValueError(f"`{name}` must be positive. Received: {size!r}")
    return (height, width)


def resize_image(image, size):
    """Resize a `(H, W, C)` uint8 image to `size=(height, width)`.

    Area interpolation when shrinking (no aliasing), bilinear when enlarging.
    """
    if size is None or image.shape[:2] == tuple(size):
        return image
    height, width = size
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    if resized.ndim == 2:
        resized = resized[..., None]
    return resized


def resize_mask(mask, size):
    """Resize a `(H, W)` 0/1 mask with nearest-neighbour interpolation."""
    if size is None or mask.shape[:2] == tuple(size):
        return mask
    height, width = size
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def convert_channels(image, channels):
    """Convert a `(H, W, C)` uint8 image to `channels` (1 = luma, 3 = RGB).

    `None` keeps the image as it is.
    """
    if channels is None or image.shape[-1] == channels:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    if channels == 3:
        return np.repeat(image, 3, axis=-1)
    raise ValueError(f"`channels` must be 1, 3 or None. Received: {channels!r}")
