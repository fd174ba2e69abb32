"""Ground truth stored in MATLAB files and as abnormal-frame intervals.

`load_mat_variable` reads one variable of a v5 `.mat` file (Avenue's
`volLabel` masks, the `gt` intervals below). UCSD's `UCSDpedN.m` and the
`pedN.mat` / `avenue.mat` files of the frames-extracted layouts (Liu et al.,
CVPR 2018) give, per test video, the abnormal frames as 1-based inclusive
`[first, last]` intervals; `labels_from_intervals` turns them into
per-frame labels, checked against the video's length.
"""

import numpy as np
import scipy.io

from keras_ssmctb.datasets import decoding


def labels_from_intervals(intervals, num_frames, source):
    """Per-frame 0/1 labels from 1-based inclusive `[first, last]` intervals.

    Args:
        intervals: a sequence of `(first, last)` pairs.
        num_frames: the video's frame count.
        source: words naming the interval file, for error messages.

    Returns:
        int64 array of shape `(num_frames,)`.

    Raises:
        ValueError: an interval is empty, starts before frame 1 or ends after
            the last frame.
    """
    labels = np.zeros(num_frames, dtype=np.int64)
    for first, last in intervals:
        first, last = int(first), int(last)
        if first < 1 or last < first or last > num_frames:
            raise ValueError(
                f"{source}: abnormal interval [{first}, {last}] (1-based, inclusive) "
                f"does not fit a video of {num_frames} frames."
            )
        labels[first - 1 : last] = 1
    return labels


def read_interval_mat(path, variable="gt"):
    """Read a `.mat` file whose `variable` is a 1×V cell array of 2×K arrays.

    Cell v holds test video v's abnormal intervals as columns
    `[first; last]` (1-based, inclusive), the format of `ped1.mat`,
    `ped2.mat` and `avenue.mat` in the frames-extracted layouts.

    Returns:
        A list of V lists of `(first, last)` pairs.
    """
    cells = load_mat_variable(path, variable)
    if cells.dtype != object:
        # A single video may be stored as a plain 2×K array.
        cells = np.array([cells], dtype=object)
    intervals = []
    for index, cell in enumerate(cells.ravel()):
        cell = np.asarray(cell)
        if cell.size == 0:
            intervals.append([])
            continue
        if cell.ndim != 2 or cell.shape[0] != 2:
            raise ValueError(
                f"Cell {index} of '{variable}' in '{path}' has shape {cell.shape}; "
                "expected a 2×K array of [first; last] abnormal frame numbers."
            )
        intervals.append([(int(a), int(b)) for a, b in cell.T])
    return intervals


def load_mat_variable(path, variable):
    """Load one variable from a MATLAB v5 `.mat` file with `scipy.io.loadmat`.

    Raises:
        ValueError: the file is not a readable v5 `.mat` file (v7.3 files are
            HDF5 and need another reader), or the variable is missing.
    """
    path = decoding.require_file(path, "MATLAB file")
    try:
        contents = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise ValueError(
            f"'{path}' is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot "
            "read; re-save it in v5 format (save(..., '-v7'))."
        ) from None
    except Exception as error:  # scipy raises several types for corrupt files
        raise ValueError(f"Could not read the MATLAB file '{path}': {error}") from None
    if variable not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise ValueError(f"The MATLAB file '{path}' has no variable '{variable}'. Found: {found}")
    return contents[variable]
