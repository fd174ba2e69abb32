"""MVTec AD reader (Bergmann et al., CVPR 2019)."""

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.images import ImageSplit


def read_mvtec(root, category, split="test"):
    """Read one category of MVTec AD in its published layout.

    Layout: `<root>/<category>/train/good/*.png` (normal training images),
    `<root>/<category>/test/<defect>/*.png` (`good` is normal, every other
    folder abnormal) and `<root>/<category>/ground_truth/<defect>/<stem>_mask.png`.

    Args:
        root: the MVTec AD folder holding one folder per category.
        category: e.g. `"bottle"`, `"carpet"`.
        split: `"train"` (normal images, no masks) or `"test"` (labels and
            masks; `good` images get all-zero masks).

    Returns:
        An `ImageSplit`; test images are ordered by defect folder (natural
        order), then file name. `names` are `<defect>/<file>`.

    Raises:
        FileNotFoundError: the category (the message lists those present), a
            split folder, or a defect image's mask is missing.
        ValueError: a folder holds no image.
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    root = decoding.require_dir(root, "MVTec AD root folder")
    folder = root / category
    if not folder.is_dir():
        present = sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        raise FileNotFoundError(
            f"MVTec AD category '{category}' not found in '{root}'. Present: {present}"
        )
    if split == "train":
        files = decoding.list_files(
            folder / "train" / "good",
            decoding.IMAGE_EXTENSIONS,
            f"MVTec '{category}' training images",
        )
        return ImageSplit(
            files,
            [0] * len(files),
            names=[f"good/{f.name}" for f in files],
            name=f"mvtec/{category}/train",
        )
    images, labels, masks, names = [], [], [], []
    for defect_dir in decoding.list_subdirs(folder / "test", f"MVTec '{category}' test folders"):
        defect = defect_dir.name
        files = decoding.list_files(
            defect_dir, decoding.IMAGE_EXTENSIONS, f"MVTec '{category}' test images '{defect}'"
        )
        for file in files:
            images.append(file)
            names.append(f"{defect}/{file.name}")
            if defect == "good":
                labels.append(0)
                masks.append(None)
            else:
                labels.append(1)
                masks.append(
                    decoding.require_file(
                        folder / "ground_truth" / defect / f"{file.stem}_mask.png",
                        f"MVTec mask of '{file}'",
                    )
                )
    return ImageSplit(images, labels, masks=masks, names=names, name=f"mvtec/{category}/test")
