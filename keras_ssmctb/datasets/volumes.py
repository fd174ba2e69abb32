"""Volume anomaly data (e.g. brain MRI): `VolumeSplit` and `read_volumes`."""

import pathlib

import numpy as np

from keras_ssmctb.datasets import decoding

VOLUME_EXTENSIONS = (".npy", ".nii", ".nii.gz")


def _volume_stem(path):
    name = pathlib.Path(path).name
    for extension in (".nii.gz", ".nii", ".npy"):
        if name.lower().endswith(extension):
            return name[: -len(extension)]
    return pathlib.Path(path).stem


def _is_volume_file(path):
    return (
        path.is_file()
        and not path.name.startswith(".")
        and path.name.lower().endswith(VOLUME_EXTENSIONS)
    )


def load_volume_file(path):
    """Load a `.npy` or NIfTI (`.nii`, `.nii.gz`) volume as a numpy array.

    NIfTI needs the optional `nibabel` package (`pip install keras-ssmctb[nifti]`).

    Raises:
        FileNotFoundError: the file does not exist.
        ImportError: a NIfTI file is given and `nibabel` is not installed.
        ValueError: the file cannot be read or is not a numeric array.
    """
    path = decoding.require_file(path, "volume file")
    if path.name.lower().endswith((".nii", ".nii.gz")):
        try:
            import nibabel
        except ImportError:
            raise ImportError(
                f"Reading the NIfTI file '{path}' needs the optional package nibabel: "
                "pip install 'keras-ssmctb[nifti]' (or pip install nibabel), or convert it to .npy."
            ) from None
        try:
            return np.asarray(nibabel.load(str(path)).get_fdata(dtype=np.float32))
        except Exception as error:
            raise ValueError(f"Could not read the NIfTI file '{path}': {error}") from None
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"Could not read '{path}' as a numeric .npy array: {error}") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"'{path}' holds a {array.dtype} array; expected numbers.")
    return array


class VolumeSplit:
    """3-D volumes with optional per-voxel masks and per-volume labels.

    Args:
        volumes: a list of `.npy`/NIfTI paths or of `(D, H, W)` /
            `(D, H, W, C)` arrays.
        labels: optional `(N,)` ints (1 = abnormal). When `None` and masks are
            given, a volume is abnormal when any mask voxel is set (computed
            on first access of `labels`).
        masks: optional, one entry per volume: a path, a `(D, H, W)` array,
            or `None` (all voxels normal).
        names: optional names (default: file names or indices).
        name: a label for the split.
    """

    def __init__(self, volumes, labels=None, masks=None, names=None, name="volumes"):
        volumes = [
            pathlib.Path(v) if isinstance(v, (str, pathlib.Path)) else np.asarray(v)
            for v in volumes
        ]
        if not volumes:
            raise ValueError(f"The volume split '{name}' holds no volume.")
        if masks is not None:
            masks = [
                (
                    None
                    if m is None
                    else pathlib.Path(m) if isinstance(m, (str, pathlib.Path)) else np.asarray(m)
                )
                for m in masks
            ]
            if len(masks) != len(volumes):
                raise ValueError(f"`masks` has {len(masks)} entries for {len(volumes)} volumes.")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(volumes),) or not np.isin(labels, (0, 1)).all():
                raise ValueError(
                    f"`labels` must be {len(volumes)} values of 0 or 1. "
                    f"Received shape {labels.shape}."
                )
            labels = labels.astype(np.int64)
        if names is None:
            names = [
                _volume_stem(v) if isinstance(v, pathlib.Path) else str(k)
                for k, v in enumerate(volumes)
            ]
        self.volumes = volumes
        self.masks = masks
        self.names = list(names)
        self.name = name
        self._labels = labels

    def __len__(self):
        return len(self.volumes)

    def __repr__(self):
        return f"VolumeSplit(name={self.name!r}, volumes={len(self)}, masks={self.has_masks})"

    @property
    def has_masks(self):
        return self.masks is not None

    @property
    def labels(self):
        """`(N,)` int64 labels, or `None` when neither labels nor masks are known."""
        if self._labels is None and self.masks is not None:
            self._labels = np.array(
                [int(self.load_mask(i).any()) for i in range(len(self))], dtype=np.int64
            )
        return self._labels

    def describe(self, index):
        volume = self.volumes[index]
        return (
            f"'{volume}'"
            if isinstance(volume, pathlib.Path)
            else f"volume {index} of '{self.name}'"
        )

    def load_volume(self, index):
        """Volume `index` as float32 `(D, H, W, C)` (a channel axis is added to 3-D volumes)."""
        volume = self.volumes[index]
        array = load_volume_file(volume) if isinstance(volume, pathlib.Path) else volume
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4:
            raise ValueError(
                f"{self.describe(index)} has shape {array.shape}; "
                "expected (D, H, W) or (D, H, W, C)."
            )
        return array.astype(np.float32)

    def load_mask(self, index):
        """Mask of volume `index`, uint8 0/1 `(D, H, W)` (zeros when it has none).

        Raises:
            ValueError: the mask's shape differs from the volume's spatial shape.
        """
        mask = None if self.masks is None else self.masks[index]
        if mask is None:
            return np.zeros(self.load_volume(index).shape[:3], dtype=np.uint8)
        where = f"'{mask}'" if isinstance(mask, pathlib.Path) else f"mask {index} of '{self.name}'"
        array = load_volume_file(mask) if isinstance(mask, pathlib.Path) else mask
        if array.ndim == 4 and array.shape[-1] == 1:
            array = array[..., 0]
        volume_shape = self.load_volume(index).shape[:3]
        if array.shape != volume_shape:
            raise ValueError(
                f"The mask {where} has shape {array.shape} but its volume {self.describe(index)} "
                f"has spatial shape {volume_shape}."
            )
        return (array != 0).astype(np.uint8)


def read_volumes(directory, mask_dir=None, mask_suffix=None, name=None):
    """Read `.npy` (and NIfTI, with `nibabel`) volumes with optional mask volumes.

    Args:
        directory: folder of volumes: `*.npy` arrays of shape `(D, H, W)` or
            `(D, H, W, C)`, and `*.nii` / `*.nii.gz` when `nibabel` is
            installed (otherwise reading them raises an `ImportError` that
            says how to install it).
        mask_dir: optional folder of mask volumes. The mask of `X.npy` is
            `<mask_dir>/X.npy` (the same file name), or `X<mask_suffix>` when
            `mask_suffix` is given (e.g. `"_seg.nii.gz"`). Every volume must
            have its mask; a volume is abnormal when any mask voxel is set.
        mask_suffix: see `mask_dir`.
        name: a label for the split (default: the folder name).

    Returns:
        A `VolumeSplit` in natural file order. Volumes are loaded on demand.

    Raises:
        FileNotFoundError: a folder, or a volume's mask, is missing.
        ValueError: the folder holds no volume file.
    """
    directory = decoding.require_dir(directory, "volume folder")
    files = sorted(
        (p for p in directory.iterdir() if _is_volume_file(p)), key=decoding.natural_sort_key
    )
    if not files:
        raise ValueError(
            f"The volume folder '{directory}' holds no {', '.join(VOLUME_EXTENSIONS)} file."
        )
    masks = None
    if mask_dir is not None:
        mask_dir = decoding.require_dir(mask_dir, "mask folder")
        masks = []
        for file in files:
            mask_name = file.name if mask_suffix is None else _volume_stem(file) + mask_suffix
            masks.append(
                decoding.require_file(mask_dir / mask_name, f"mask of the volume '{file}'")
            )
    return VolumeSplit(files, masks=masks, name=name or directory.name)
