"""Image anomaly data: `ImageSplit` and the generic image-folder reader."""

import pathlib

import numpy as np
from PIL import Image

from keras_ssmctb.datasets import cache
from keras_ssmctb.datasets import decoding


def _image_size(path):
    """(height, width) of an image file, reading only its header when possible."""
    try:
        with Image.open(path) as image:
            width, height = image.size
        return (height, width)
    except Exception:  # PIL cannot parse some TIFF variants; decode instead.
        return decoding.read_image(path).shape[:2]


class ImageSplit:
    """Images with labels and optional masks (one split of an image data set).

    Images and masks are file paths (decoded on demand) or in-memory arrays.
    `read_mvtec`, `read_image_folder` and `make_synthetic_images` return this
    type; `ImageDataset` batches it.

    Args:
        images: a list of image file paths, a list of uint8 `(H, W[, C])`
            arrays, or one `(N, H, W[, C])` array.
        labels: `(N,)` ints, 1 for abnormal images.
        masks: `None` (no pixel ground truth), or one entry per image: a mask
            file path, a `(H, W)` array (non-zero = abnormal), or `None` for
            an image with no mask file (all pixels normal). A `(N, H, W)`
            array is accepted too.
        names: optional per-image names (default: file names or indices).
        name: a label for the split, such as `"mvtec/bottle/test"`.

    Example:

    ```python
    split = ImageSplit(np.zeros((4, 32, 32, 3), "uint8"), labels=[0, 0, 1, 1])
    split.load_images(image_size=16).shape  # (4, 16, 16, 3)
    ```
    """

    def __init__(self, images, labels, masks=None, names=None, name="images"):
        if isinstance(images, np.ndarray) and images.dtype != object:
            if images.ndim not in (3, 4):
                raise ValueError(f"`images` array must be (N, H, W[, C]). Received: {images.shape}")
            images = list(images)
        images = [
            pathlib.Path(i) if isinstance(i, (str, pathlib.Path)) else np.asarray(i) for i in images
        ]
        if not images:
            raise ValueError(f"The image split '{name}' holds no image.")
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"`labels` must have one entry per image: expected shape ({len(images)},), "
                f"received {labels.shape}."
            )
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("`labels` must be 0 (normal) or 1 (abnormal).")
        if masks is not None:
            if isinstance(masks, np.ndarray) and masks.dtype != object:
                masks = list(masks)
            masks = [
                (
                    None
                    if m is None
                    else pathlib.Path(m) if isinstance(m, (str, pathlib.Path)) else np.asarray(m)
                )
                for m in masks
            ]
            if len(masks) != len(images):
                raise ValueError(f"`masks` has {len(masks)} entries for {len(images)} images.")
        if names is None:
            names = [
                i.name if isinstance(i, pathlib.Path) else str(k) for k, i in enumerate(images)
            ]
        if len(names) != len(images):
            raise ValueError(f"`names` has {len(names)} entries for {len(images)} images.")
        self.images = images
        self.labels = labels.astype(np.int64)
        self.masks = masks
        self.names = list(names)
        self.name = name
        self._memo = {}

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        return (
            f"ImageSplit(name={self.name!r}, images={len(self)}, "
            f"abnormal={int(self.labels.sum())}, masks={self.has_masks})"
        )

    @property
    def has_masks(self):
        return self.masks is not None

    def describe(self, index):
        image = self.images[index]
        return (
            f"'{image}'" if isinstance(image, pathlib.Path) else f"image {index} of '{self.name}'"
        )

    def load_image(self, index):
        """Image `index` at native size as uint8 `(H, W, C)`."""
        image = self.images[index]
        if isinstance(image, pathlib.Path):
            return decoding.read_image(image)
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3 or image.shape[-1] not in (1, 3):
            raise ValueError(
                f"{self.describe(index)} has shape {image.shape}; expected (H, W[, 1 or 3])."
            )
        if image.dtype != np.uint8:
            if image.min() < 0 or image.max() > 1:
                raise ValueError(f"{self.describe(index)}: float images must lie in [0, 1].")
            image = np.round(image * 255).astype(np.uint8)
        return image

    def image_size(self, index):
        """Native (height, width) of image `index`."""
        image = self.images[index]
        if isinstance(image, pathlib.Path):
            return _image_size(decoding.require_file(image, "image"))
        return image.shape[:2]

    def load_mask(self, index):
        """Mask of image `index` at the image's size, uint8 0/1 `(H, W)`.

        Images without a mask (normal images, or a split without masks) get
        an all-zero mask.

        Raises:
            ValueError: the mask's size differs from the image's.
        """
        size = self.image_size(index)
        mask = None if self.masks is None else self.masks[index]
        if mask is None:
            return np.zeros(size, dtype=np.uint8)
        if isinstance(mask, pathlib.Path):
            where = f"'{mask}'"
            mask = decoding.read_mask(mask)
        else:
            where = f"mask {index} of '{self.name}'"
            if mask.ndim != 2:
                raise ValueError(f"{where} has shape {mask.shape}; expected (H, W).")
            mask = (mask != 0).astype(np.uint8)
        if mask.shape != tuple(size):
            raise ValueError(
                f"The mask {where} has size {mask.shape} (height, width) but its image "
                f"{self.describe(index)} has size {tuple(size)}."
            )
        return mask

    def _fingerprint(self, kind):
        """Cache key of the decoded stack, or `None` when anything is in memory."""
        if not all(isinstance(i, pathlib.Path) for i in self.images):
            return None
        paths, extra = list(self.images), f"imagesplit-{kind}"
        if kind == "masks" and self.masks is not None:
            if any(isinstance(m, np.ndarray) for m in self.masks):
                return None
            paths += [m for m in self.masks if m is not None]
            extra += f"-no-mask-at-{[k for k, m in enumerate(self.masks) if m is None]}"
        return cache.fingerprint_files(paths, extra=extra)

    def _load_stack(self, key, items, cache_dir):
        if key in self._memo:
            return self._memo[key]
        kind, size = key[0], key[1]
        fingerprint = self._fingerprint(kind)
        if fingerprint is None:
            stack = np.stack(list(items()))
        else:
            channel_tag = f"-c{key[2]}" if kind == "images" else ""
            path = (
                cache.resolve_cache_dir(cache_dir)
                / f"{fingerprint}-{kind}-{size[0]}x{size[1]}{channel_tag}.npy"
            )
            stack = cache.cached_uint8_stack(path, items)
        self._memo[key] = stack
        return stack

    def load_images(self, image_size, channels=None, cache_dir=None):
        """All images resized to `image_size`, uint8 `(N, height, width, C)`.

        File-based splits are decoded once into the decode-once cache
        (`keras_ssmctb.datasets.cache`) and returned as a memmap.

        Args:
            image_size: `(height, width)` or an int.
            channels: 1 or 3 (converted as needed); `None` keeps the native
                count, which must then agree across images.
            cache_dir: cache folder (`None`: the default).
        """
        size = decoding.normalize_size(image_size)
        if size is None:
            raise ValueError("`image_size` is required to stack images of different sizes.")
        if channels not in (None, 1, 3):
            raise ValueError(f"`channels` must be 1, 3 or None. Received: {channels!r}")

        def items():
            for index in range(len(self)):
                image = decoding.resize_image(self.load_image(index), size)
                yield decoding.convert_channels(image, channels)

        return self._load_stack(("images", size, channels), items, cache_dir)

    def load_masks(self, image_size, cache_dir=None):
        """All masks resized (nearest) to `image_size`, uint8 0/1 `(N, height, width)`."""
        size = decoding.normalize_size(image_size)
        if size is None:
            raise ValueError("`image_size` is required to stack masks of different sizes.")

        def items():
            for index in range(len(self)):
                yield decoding.resize_mask(self.load_mask(index), size)

        return self._load_stack(("masks", size), items, cache_dir)

    def subset(self, indices, name=None):
        """A new `ImageSplit` with the images at `indices`, in that order."""
        indices = [int(i) for i in indices]
        return ImageSplit(
            [self.images[i] for i in indices],
            self.labels[indices],
            masks=None if self.masks is None else [self.masks[i] for i in indices],
            names=[self.names[i] for i in indices],
            name=name or self.name,
        )

    def one_class_split(self, train_fraction=0.8, seed=0):
        """The one-class protocol: train on part of the normal images, test on the rest.

        Args:
            train_fraction: fraction of the normal images used for training.
            seed: seed of the shuffle that picks them.

        Returns:
            `(train, test)`: `train` holds only normal images; `test` holds
            the remaining normal images and every abnormal one.
        """
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"`train_fraction` must be in (0, 1). Received: {train_fraction}")
        normal = np.flatnonzero(self.labels == 0)
        if len(normal) < 2:
            raise ValueError(
                f"'{self.name}' has {len(normal)} normal images; need at least 2 to split."
            )
        normal = np.random.default_rng(seed).permutation(normal)
        count = min(max(1, int(round(train_fraction * len(normal)))), len(normal) - 1)
        train = np.sort(normal[:count])
        test = np.sort(np.concatenate([normal[count:], np.flatnonzero(self.labels == 1)]))
        return self.subset(train, f"{self.name}/train"), self.subset(test, f"{self.name}/test")


def _as_dirs(value, what):
    if value is None:
        return []
    values = [value] if isinstance(value, (str, pathlib.Path)) else list(value)
    return [decoding.require_dir(v, what) for v in values]


def read_image_folder(
    normal_dir=None, abnormal_dir=None, mask_dir=None, mask_suffix=None, name=None
):
    """Read images from a normal folder and an abnormal folder, with optional masks.

    Covers image sets without a dedicated reader, e.g. the magnetic-tile
    defects (`MT_Free/Imgs` normal, `MT_Blowhole/Imgs` abnormal, each
    `X.jpg` with its mask `X.png` beside it).

    Masks, three ways:

    - `mask_dir=None, mask_suffix=None`: no masks.
    - `mask_dir=None, mask_suffix=".png"`: the mask of `X.jpg` is `X.png`
      beside it (any suffix works, e.g. `"_mask.png"`); files that are the
      mask of another file are not listed as images.
    - `mask_dir=...`: the mask of `X.jpg` is `<mask_dir>/X<mask_suffix>`
      (`mask_suffix` defaults to `".png"`). With several abnormal folders,
      pass one mask folder per abnormal folder.

    Abnormal images must have their mask when masks are enabled; normal
    images may lack one (their mask is all zeros).

    Args:
        normal_dir: folder (or list of folders) of normal images, label 0.
        abnormal_dir: folder (or list of folders) of abnormal images, label 1.
        mask_dir: see above.
        mask_suffix: see above.
        name: a label for the split (default: the first folder's name).

    Returns:
        An `ImageSplit`, normal images first, each folder in natural order.

    Raises:
        FileNotFoundError: a folder, or an abnormal image's mask, is missing.
        ValueError: no folder given, or a folder holds no image.

    Example:

    ```python
    tiles = read_image_folder(
        "magnetic-tile/MT_Free/Imgs", ["magnetic-tile/MT_Crack/Imgs"], mask_suffix=".png"
    )
    train, test = tiles.one_class_split(0.8)
    ```
    """
    normal_dirs = _as_dirs(normal_dir, "normal image folder")
    abnormal_dirs = _as_dirs(abnormal_dir, "abnormal image folder")
    if not normal_dirs and not abnormal_dirs:
        raise ValueError("Pass `normal_dir`, `abnormal_dir` or both.")
    masks_beside = mask_dir is None and mask_suffix is not None
    mask_dirs = _as_dirs(mask_dir, "mask folder")
    if mask_dirs and len(mask_dirs) not in (1, len(abnormal_dirs)):
        raise ValueError(
            f"`mask_dir` lists {len(mask_dirs)} folders for {len(abnormal_dirs)} abnormal folders; "
            "pass one folder, or one per abnormal folder."
        )
    suffix = mask_suffix if mask_suffix is not None else ".png"
    use_masks = masks_beside or bool(mask_dirs)

    images, labels, masks = [], [], []
    folders = [(d, 0, None) for d in normal_dirs]
    folders += [
        (d, 1, mask_dirs[min(k, len(mask_dirs) - 1)] if mask_dirs else None)
        for k, d in enumerate(abnormal_dirs)
    ]
    for folder, label, folder_mask_dir in folders:
        files = decoding.list_files(
            folder, decoding.IMAGE_EXTENSIONS, f"{'abnormal' if label else 'normal'} images"
        )
        if masks_beside:
            names = {f.name for f in files}
            mask_names = {
                f.stem + suffix
                for f in files
                if f.stem + suffix != f.name and f.stem + suffix in names
            }
            files = [f for f in files if f.name not in mask_names]
        for file in files:
            mask = None
            if use_masks:
                # Normal images look in the first mask folder; their mask is optional.
                where = folder if masks_beside else (folder_mask_dir or mask_dirs[0])
                candidate = where / (file.stem + suffix)
                if masks_beside and candidate.name == file.name:
                    raise ValueError(
                        f"'{file}' would be its own mask with mask_suffix={mask_suffix!r}; "
                        "use a suffix that differs from the image file names."
                    )
                if candidate.is_file():
                    mask = candidate
                elif label == 1:
                    raise FileNotFoundError(
                        f"Mask of the abnormal image '{file}' not found: expected '{candidate}'."
                    )
            images.append(file)
            labels.append(label)
            masks.append(mask)
        if not files:
            raise ValueError(f"The folder '{folder}' holds only mask files, no image.")
    split_name = name or (normal_dirs or abnormal_dirs)[0].name
    return ImageSplit(images, labels, masks=masks if use_masks else None, name=split_name)
