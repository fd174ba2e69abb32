"""Decode-once cache: stacks of uint8 frames stored as `.npy` files, read by memmap.

Video decoding dominates the cost of an epoch on real data. The pipelines
therefore decode each video (or image set) once, at the resolution and
channel count the model needs, into `<cache_dir>/<key>.npy`, and every later
epoch, process or run reads that file through `numpy.load(mmap_mode="r")`.
The operating system pages frames in and out, so a data set larger than RAM
streams from disk.

The key is a hash of the source files' absolute paths, sizes and
modification times plus the requested size and channels: editing or
replacing a source file invalidates its entry. Entries are written to a
temporary file and renamed into place, so an interrupted run never leaves a
half-written entry behind and parallel processes never read one.
"""

import hashlib
import io
import os
import pathlib
import uuid

import numpy as np

CACHE_ENV_VAR = "KERAS_SSMCTB_CACHE"
# Reserved header size of the streamed `.npy` files: numpy pads headers to a
# multiple of 64 bytes and any uint8 4-D shape fits in 128.
_HEADER_BYTES = 128


def default_cache_dir():
    """`$KERAS_SSMCTB_CACHE` when set, else `~/.cache/keras_ssmctb`."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return pathlib.Path(env)
    return pathlib.Path.home() / ".cache" / "keras_ssmctb"


def resolve_cache_dir(cache_dir):
    """The cache folder to use for `cache_dir` (`None` -> the default)."""
    return pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()


def fingerprint_files(paths, extra=""):
    """A short hash of files' absolute paths, sizes and modification times."""
    digest = hashlib.sha1(extra.encode())
    for path in paths:
        path = pathlib.Path(path).resolve()
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def _npy_header(shape):
    header = {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def cached_uint8_stack(path, items):
    """Return the uint8 stack cached at `path`, writing it from `items` if absent.

    Args:
        path: the `.npy` file of the cache entry.
        items: a callable returning an iterable of equally shaped uint8
            arrays (one frame or mask each); only called on a cache miss. The
            arrays are streamed to disk one at a time.

    Returns:
        A read-only `numpy.memmap` of shape `(count,) + item_shape`.

    Raises:
        ValueError: the iterable is empty, or an item's shape differs from the
            first one's (the message gives the index and both shapes).
    """
    path = pathlib.Path(path)
    if path.is_file():
        return np.load(path, mmap_mode="r")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    count, item_shape = 0, None
    try:
        with open(tmp, "wb") as handle:
            handle.write(b"\0" * _HEADER_BYTES)
            for item in items():
                item = np.ascontiguousarray(item, dtype=np.uint8)
                if item_shape is None:
                    item_shape = item.shape
                elif item.shape != item_shape:
                    raise ValueError(
                        f"Item {count} has shape {item.shape} but item 0 has "
                        f"shape {item_shape}; all frames (masks) of one video "
                        "must have the same shape."
                    )
                handle.write(item.tobytes())
                count += 1
            if count == 0:
                raise ValueError("Nothing to cache: the source yielded no frames.")
            header = _npy_header((count,) + item_shape)
            if len(header) != _HEADER_BYTES:
                # Only for absurd shapes; the data is already on disk.
                raise ValueError(f"Cannot cache an array of shape {(count,) + item_shape}.")
            handle.seek(0)
            handle.write(header)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return np.load(path, mmap_mode="r")
