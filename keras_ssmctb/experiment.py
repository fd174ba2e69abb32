"""Train, evaluate and report: the one code path behind the examples and the CLI.

A run reads a dataset (or generates the synthetic default), builds a ready
model from `keras_ssmctb.applications` with `block=None | "sspcab" |
"ssmctb"`, trains it with `model.fit`, scores the test split, computes the
paper's metrics and writes `model.keras`, `metrics.json` and plots to an
output folder. `examples/*.py` and `ssmctb train/evaluate` only parse
arguments and call `run` / `evaluate_saved`.
"""

import contextlib
import dataclasses
import json
import pathlib
import time

import keras
import numpy as np

from keras_ssmctb import datasets
from keras_ssmctb import distribute
from keras_ssmctb import metrics
from keras_ssmctb import plots
from keras_ssmctb import scoring

VIDEO_DATASETS = (
    "synthetic-video",
    "avenue",
    "shanghaitech",
    "ucsd-ped1",
    "ucsd-ped2",
    "folder-video",
)
IMAGE_DATASETS = ("synthetic-images", "mvtec", "folder-images")
VOLUME_DATASETS = ("synthetic-volumes",)
DATASETS = VIDEO_DATASETS + IMAGE_DATASETS + VOLUME_DATASETS
MODELS = ("frame_autoencoder", "unet", "draem", "draem3d")
BLOCKS = ("none", "sspcab", "ssmctb")
MODEL_KINDS = {
    "frame_autoencoder": "video",
    "unet": "video",
    "draem": "image",
    "draem3d": "volume",
}


class ExperimentError(ValueError):
    """A run cannot start: bad dataset name, layout, or model/dataset pair."""


def dataset_kind(dataset):
    if dataset in VIDEO_DATASETS:
        return "video"
    if dataset in IMAGE_DATASETS:
        return "image"
    if dataset in VOLUME_DATASETS:
        return "volume"
    raise ExperimentError(f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")


@dataclasses.dataclass
class RunConfig:
    """Everything a run needs; the defaults are the main job's (a few minutes on 2 CPU cores).

    Attributes:
        dataset: one of `DATASETS`.
        root: dataset folder (None for the synthetic sets).
        model: one of `MODELS`; None picks the dataset's default
            (frame_autoencoder, draem, draem3d).
        block: "none", "sspcab" or "ssmctb".
        epochs: training epochs.
        image_size: frames/images are resized to this square size.
        batch_size: training batch size.
        learning_rate: Adam's learning rate.
        base_filters: model width (None = the model's default).
        num_input_frames: T for video models.
        channels: 1 (grayscale) or 3 for video.
        block_kwargs: passed to the block (e.g. {"dilation": 2}).
        use_block_error: add the block's own error map to the score (Sec. 3.1).
        category: MVTec AD category, or for "folder-images" unused.
        normal_dir, abnormal_dir, mask_dir, mask_suffix: for "folder-images".
        labels: per-frame label file for "folder-video".
        max_videos: read at most this many videos per split (None = all).
        seed: seeds data generation and weights.
        out: output folder.
        distribute: train data-parallel over the visible devices.
    """

    dataset: str = "synthetic-video"
    root: str = None
    model: str = None
    block: str = "ssmctb"
    epochs: int = 3
    image_size: int = 64
    batch_size: int = 8
    learning_rate: float = 2e-3
    base_filters: int = None
    num_input_frames: int = 4
    channels: int = 1
    block_kwargs: dict = None
    use_block_error: bool = False
    category: str = None
    normal_dir: str = None
    abnormal_dir: str = None
    mask_dir: str = None
    mask_suffix: str = None
    labels: str = None
    max_videos: int = None
    seed: int = 0
    out: str = "outputs"
    distribute: bool = False

    def validate(self):
        kind = dataset_kind(self.dataset)
        if self.model is None:
            self.model = {"video": "frame_autoencoder", "image": "draem", "volume": "draem3d"}[kind]
        if self.model not in MODELS:
            raise ExperimentError(f"Unknown model {self.model!r}; choose one of {', '.join(MODELS)}.")
        if MODEL_KINDS[self.model] != kind:
            raise ExperimentError(
                f"Model {self.model!r} takes {MODEL_KINDS[self.model]} data but dataset "
                f"{self.dataset!r} is {kind} data; pick a model among "
                f"{', '.join(m for m, k in MODEL_KINDS.items() if k == kind)}."
            )
        if self.block not in BLOCKS:
            raise ExperimentError(f"Unknown block {self.block!r}; choose one of {', '.join(BLOCKS)}.")
        for name in ("epochs", "image_size", "batch_size", "num_input_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ExperimentError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}.")
        if not self.dataset.startswith("synthetic") and self.root is None and self.dataset != "folder-images":
            raise ExperimentError(f"Dataset {self.dataset!r} needs --root PATH (its folder).")
        if self.root is not None and not pathlib.Path(self.root).is_dir():
            raise ExperimentError(f"--root {self.root}: no such folder.")
        return self


# --------------------------------------------------------------------------- data


def load_video_splits(config):
    """(train, test) `VideoSplit`s for a video run."""
    root = config.root
    try:
        if config.dataset == "synthetic-video":
            size = max(config.image_size, 32)
            count = config.max_videos or 4
            train = datasets.make_synthetic_video("train", count, image_size=size, seed=config.seed)
            test = datasets.make_synthetic_video("test", count, image_size=size, seed=config.seed)
        elif config.dataset == "avenue":
            train, test = datasets.read_avenue(root, "train"), datasets.read_avenue(root, "test")
        elif config.dataset == "shanghaitech":
            train, test = datasets.read_shanghaitech(root, "train"), datasets.read_shanghaitech(root, "test")
        elif config.dataset in ("ucsd-ped1", "ucsd-ped2"):
            subset = config.dataset.split("-")[1]
            train = datasets.read_ucsd(root, subset, "train")
            test = datasets.read_ucsd(root, subset, "test")
        else:  # folder-video: root/train/<video>/*, root/test/<video>/* + labels
            raise ExperimentError(
                "Dataset 'folder-video' is read with keras_ssmctb.datasets.read_frame_folder "
                "from Python; the command line covers the published layouts."
            )
    except FileNotFoundError as error:
        raise ExperimentError(f"{config.dataset} at {root}: {error}") from error
    if config.max_videos:
        train = train[: config.max_videos]
        test = test[: config.max_videos]
    return train, test


# --------------------------------------------------------------------------- models


def build_model(config, input_shape):
    from keras_ssmctb import applications

    block = None if config.block == "none" else config.block
    kwargs = dict(block=block, block_kwargs=config.block_kwargs)
    if config.base_filters is not None:
        kwargs["base_filters"] = config.base_filters
    if config.model == "frame_autoencoder":
        return applications.FrameAutoencoder(
            input_shape, num_input_frames=config.num_input_frames, **kwargs
        )
    if config.model == "unet":
        return applications.UNetPredictor(
            input_shape, num_input_frames=config.num_input_frames, **kwargs
        )
    if config.model == "draem":
        return applications.DRAEM(input_shape, **kwargs)
    return applications.DRAEM3D(input_shape, **kwargs)


# --------------------------------------------------------------------------- video


@dataclasses.dataclass
class VideoEvaluation:
    """Per-video frame scores, labels and maps of one evaluated model."""

    metrics: dict
    frame_scores: list
    labels: list
    anomaly_maps: list
    masks: list
    frame_indices: list
    video_names: list


def video_datasets(config, train, test, value_range):
    common = dict(
        num_input_frames=config.num_input_frames,
        image_size=config.image_size,
        value_range=value_range,
        channels=config.channels,
    )
    train_data = datasets.FrameClipDataset(
        train, batch_size=config.batch_size, shuffle=True, seed=config.seed,
        drop_remainder=config.distribute, **common
    )
    test_data = datasets.FrameClipDataset(test, batch_size=32, shuffle=False, **common)
    return train_data, test_data


def evaluate_video(model, test_data, use_block_error=False):
    """Score every test clip and compute micro/macro AUC, RBDC, TBDC and ms/frame."""
    # Warm up (compile) on one full batch, so ms/frame measures steady-state inference.
    model.score(*test_data[0], batch_size=test_data.batch_size, use_block_error=use_block_error)
    start = time.perf_counter()
    scores = model.score(test_data, use_block_error=use_block_error)
    seconds = time.perf_counter() - start
    # anomaly_score is -PSNR of the anomaly map, which includes the block's error
    # when use_block_error=True (and equals -PSNR of the prediction otherwise).
    psnr = test_data.group_by_video(-scores["anomaly_score"])
    maps = test_data.group_by_video(scores["anomaly_map"])
    frame_scores = scoring.frame_anomaly_scores(psnr)
    labels = test_data.target_labels()
    masks = test_data.target_masks()
    results = {
        "micro_auc": metrics.micro_auc(frame_scores, labels),
        "macro_auc": metrics.macro_auc(frame_scores, labels),
    }
    if all(m is not None for m in masks):
        results["rbdc"], results["tbdc"] = metrics.rbdc_tbdc(maps, masks)
    else:
        results["rbdc"] = results["tbdc"] = float("nan")
    results["ms_per_frame"] = 1000.0 * seconds / test_data.num_samples
    return VideoEvaluation(
        metrics=results,
        frame_scores=frame_scores,
        labels=labels,
        anomaly_maps=maps,
        masks=masks,
        frame_indices=test_data.target_frame_indices(),
        video_names=[v.name for v in test_data.videos],
    )


def train_model(model, train_data, config, verbose="auto"):
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    history = model.fit(train_data, epochs=config.epochs, verbose=verbose)
    return history.history["loss"]


# --------------------------------------------------------------------------- images and volumes


@dataclasses.dataclass
class ImageEvaluation:
    """Image scores, labels and maps of one evaluated DRAEM model."""

    metrics: dict
    image_scores: np.ndarray
    labels: np.ndarray
    anomaly_maps: np.ndarray
    masks: np.ndarray
    images: np.ndarray
    names: list


def load_image_splits(config):
    """(train, test) `ImageSplit`s for an image run."""
    try:
        if config.dataset == "synthetic-images":
            size = max(config.image_size, 16)
            train = datasets.make_synthetic_images("train", image_size=size, seed=config.seed)
            test = datasets.make_synthetic_images("test", image_size=size, seed=config.seed)
        elif config.dataset == "mvtec":
            if not config.category:
                raise ExperimentError("Dataset 'mvtec' needs --category (e.g. bottle).")
            train = datasets.read_mvtec(config.root, config.category, "train")
            test = datasets.read_mvtec(config.root, config.category, "test")
        else:
            train, test = _image_folder_splits(config)
    except FileNotFoundError as error:
        raise ExperimentError(f"{config.dataset}: {error}") from error
    return train, test


def _image_folder_splits(config):
    """Generic folders: train on part of the normal images, test on the rest + abnormal."""
    if not config.normal_dir or not config.abnormal_dir:
        raise ExperimentError(
            "Dataset 'folder-images' needs --normal-dir and --abnormal-dir (and --mask-dir or "
            "--mask-suffix for pixel ground truth)."
        )
    split = datasets.read_image_folder(
        config.normal_dir,
        config.abnormal_dir,
        mask_dir=config.mask_dir,
        mask_suffix=config.mask_suffix,
    )
    return split.one_class_split(0.8, seed=config.seed)


def image_channels(config, split):
    return 3 if config.dataset in ("synthetic-images", "mvtec") else 1


def _score_samples(model, x, labels, masks, names, batch_size, use_block_error):
    """Timed scoring (after one compiling warm-up batch) and the image-level metrics."""
    model.score(x[:batch_size], batch_size=batch_size, use_block_error=use_block_error)
    start = time.perf_counter()
    scores = model.score(x, batch_size=batch_size, use_block_error=use_block_error)
    seconds = time.perf_counter() - start
    labels = np.asarray(labels)
    results = {
        "image_auroc": metrics.image_auroc(scores["image_score"], labels),
        "image_ap": metrics.image_ap(scores["image_score"], labels),
        "ms_per_image": 1000.0 * seconds / len(x),
    }
    return ImageEvaluation(
        metrics=results,
        image_scores=scores["image_score"],
        labels=labels,
        anomaly_maps=scores["anomaly_map"],
        masks=masks,
        images=x,
        names=names,
    )


def evaluate_images(model, test_data, use_block_error=False):
    """Image AUROC/AP, pixel AUROC/AP and AUPRO of a DRAEM model."""
    batches = [test_data[i] for i in range(len(test_data))]
    if test_data.targets is None:
        x, masks = np.concatenate(batches), None
    else:
        x = np.concatenate([b[0] for b in batches])
        masks = np.concatenate([b[1] for b in batches])[..., 0]
    names = list(test_data.split.names)
    evaluation = _score_samples(model, x, test_data.labels, masks, names, 16, use_block_error)
    if masks is not None:
        maps = evaluation.anomaly_maps
        evaluation.metrics["pixel_auroc"] = metrics.pixel_auroc(maps, masks)
        evaluation.metrics["pixel_ap"] = metrics.pixel_ap(maps, masks)
        evaluation.metrics["aupro"] = metrics.aupro(maps, masks)
    return evaluation


def evaluate_volumes(model, test_data, use_block_error=False):
    """Volume AUROC/AP and voxel AUROC/AP of a DRAEM3D model (maps: (N, D, H, W))."""
    x = test_data.volumes
    masks = None if test_data.masks is None else test_data.masks[..., 0]
    names = [str(i) for i in range(len(x))]
    evaluation = _score_samples(model, x, test_data.labels, masks, names, 4, use_block_error)
    if masks is not None:
        # Voxel-level: every depth slice is an image for the pixel metrics.
        maps = evaluation.anomaly_maps
        flat_maps = maps.reshape((-1,) + maps.shape[2:])
        flat_masks = masks.reshape((-1,) + masks.shape[2:])
        evaluation.metrics["pixel_auroc"] = metrics.pixel_auroc(flat_maps, flat_masks)
        evaluation.metrics["pixel_ap"] = metrics.pixel_ap(flat_maps, flat_masks)
    return evaluation


# --------------------------------------------------------------------------- runs


@dataclasses.dataclass
class Prepared:
    """Data of a run, prepared once and shared by every block trained on it."""

    kind: str
    train_data: object
    test_data: object
    input_shape: tuple


def prepare(config):
    """Read (or generate) the data and wrap it in the `PyDataset`s the model needs."""
    config.validate()
    kind = dataset_kind(config.dataset)
    if kind == "video":
        train, test = load_video_splits(config)
        value_range = (-1.0, 1.0)  # both video models end in tanh
        train_data, test_data = video_datasets(config, train, test, value_range)
        shape = (config.image_size, config.image_size, config.num_input_frames * config.channels)
        return Prepared(kind, train_data, test_data, shape)
    if kind == "image":
        train, test = load_image_splits(config)
        channels = image_channels(config, train)
        normal = datasets.ImageDataset(train, image_size=config.image_size, channels=channels)
        train_data = datasets.DraemAnomalyDataset(
            np.asarray(normal.images), batch_size=config.batch_size, seed=config.seed,
            drop_remainder=config.distribute,
        )
        test_data = datasets.ImageDataset(
            test, image_size=config.image_size, channels=channels, batch_size=16,
            targets="mask" if test.has_masks else None,
        )
        return Prepared(kind, train_data, test_data, (config.image_size,) * 2 + (channels,))
    train = datasets.make_synthetic_volumes("train", volume_shape=(config.image_size,) * 3, seed=config.seed)
    test = datasets.make_synthetic_volumes("test", volume_shape=(config.image_size,) * 3, seed=config.seed)
    shape = (config.image_size,) * 3
    normal = datasets.VolumeDataset(train, volume_shape=shape)
    train_data = datasets.DraemAnomalyDataset(
        normal.volumes, batch_size=config.batch_size, seed=config.seed, drop_remainder=config.distribute
    )
    test_data = datasets.VolumeDataset(test, volume_shape=shape, targets="mask")
    return Prepared(kind, train_data, test_data, shape + (1,))


def train_and_evaluate(config, prepared=None, verbose="auto"):
    """Build, train and evaluate one model; returns `(model, evaluation, losses)`."""
    prepared = prepared or prepare(config)
    keras.utils.set_random_seed(config.seed)
    # `distribute.data_parallel_scope` yields the replica count; one device otherwise.
    scope = distribute.data_parallel_scope() if config.distribute else contextlib.nullcontext(1)
    with scope as replicas:
        if config.batch_size % replicas:
            raise ExperimentError(
                f"--batch-size {config.batch_size} does not split over the {replicas} devices "
                f"of --distribute; use a multiple of {replicas}."
            )
        model = build_model(config, prepared.input_shape)
        losses = train_model(model, prepared.train_data, config, verbose)
    return model, evaluate(model, prepared, config.use_block_error), losses


def evaluate(model, prepared, use_block_error=False):
    if prepared.kind == "video":
        return evaluate_video(model, prepared.test_data, use_block_error)
    if prepared.kind == "image":
        return evaluate_images(model, prepared.test_data, use_block_error)
    return evaluate_volumes(model, prepared.test_data, use_block_error)


def run(config, blocks=None, verbose="auto", log=print):
    """Train and evaluate one model per block; write models, metrics and plots.

    Args:
        config: a `RunConfig`; `config.block` is used when `blocks` is None.
        blocks: e.g. `["none", "sspcab", "ssmctb"]` for the paper's
            baseline / +SSPCAB / +SSMCTB rows.
        verbose: Keras' `fit` verbosity.
        log: where progress lines go.

    Writes, under `config.out`: `<block>/model.keras` for each block,
    `metrics.json` (one entry per block, plus the run's settings) and PNG
    plots; with a single block the model is `model.keras` at the top.

    Returns:
        dict block -> metrics dict.
    """
    blocks = list(blocks or [config.block])
    for block in blocks:
        if block not in BLOCKS:
            raise ExperimentError(f"Unknown block {block!r}; choose one of {', '.join(BLOCKS)}.")
    out = pathlib.Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    prepared = prepare(config)
    log(f"data ready in {time.perf_counter() - start:.1f} s: {describe(prepared)}")
    results, evaluations = {}, {}
    for block in blocks:
        config.block = block
        log(f"--- training {config.model} with block={block} for {config.epochs} epochs")
        model, evaluation, losses = train_and_evaluate(config, prepared, verbose)
        folder = out if len(blocks) == 1 else out / block
        folder.mkdir(parents=True, exist_ok=True)
        model.save(folder / "model.keras")
        results[block] = dict(evaluation.metrics, final_loss=float(losses[-1]))
        evaluations[block] = evaluation
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "block"}
    settings["backend"] = keras.backend.backend()
    settings["seconds"] = round(time.perf_counter() - start, 1)
    (out / "metrics.json").write_text(json.dumps({"settings": settings, "results": results}, indent=2))
    write_plots(out, prepared, evaluations)
    return results


def describe(prepared):
    data = prepared.train_data
    if prepared.kind == "video":
        return (
            f"{len(data.videos)} training videos ({data.num_samples} clips), "
            f"{len(prepared.test_data.videos)} test videos ({prepared.test_data.num_samples} clips), "
            f"input {prepared.input_shape}"
        )
    return f"{len(data)} training batches, input {prepared.input_shape}"


def write_plots(out, prepared, evaluations, max_videos=3):
    """Frame-score curves (Figs. 6-9) or overlays (Figs. 4-5) comparing the blocks."""
    names = list(evaluations)
    ours = "ssmctb" if "ssmctb" in evaluations else names[-1]
    others = [n for n in names if n != ours]
    main = evaluations[ours]
    paths = []
    if prepared.kind == "video":
        for v in range(min(max_videos, len(main.frame_scores))):
            other = {_label(n): evaluations[n].frame_scores[v] for n in others}
            paths.append(
                plots.plot_frame_scores(
                    out / f"frame_scores_video_{main.video_names[v]}.png",
                    main.frame_scores[v],
                    main.labels[v],
                    title=f"test video {main.video_names[v]}",
                    other_scores=other or None,
                    score_label=_label(ours),
                    frame_indices=main.frame_indices[v],
                )
            )
            if main.masks[v] is not None and main.labels[v].any():
                frame = int(np.argmax(main.labels[v] * main.anomaly_maps[v].reshape(len(main.labels[v]), -1).max(1)))
                clip = prepared.test_data.videos[v].load_frames(prepared.test_data.image_size)
                image = clip[main.frame_indices[v][frame]]
                paths.append(
                    plots.plot_anomaly_overlay(
                        out / f"anomaly_map_video_{main.video_names[v]}.png",
                        image,
                        main.anomaly_maps[v][frame],
                        gt_mask=main.masks[v][frame],
                        threshold=float(np.quantile(main.anomaly_maps[v], 0.99)),
                        title=f"{_label(ours)}: video {main.video_names[v]}, frame {main.frame_indices[v][frame]}",
                    )
                )
        return paths
    abnormal = np.flatnonzero(main.labels == 1)[:max_videos]
    for i in abnormal:
        image = main.images[i]
        if image.ndim == 4:  # volume: the slice with the most lesion
            depth = int(np.argmax(main.masks[i].reshape(len(main.masks[i]), -1).sum(1))) if main.masks is not None else image.shape[0] // 2
            image, amap = image[depth], main.anomaly_maps[i][depth]
            mask = None if main.masks is None else main.masks[i][depth]
        else:
            amap = main.anomaly_maps[i]
            mask = None if main.masks is None else main.masks[i]
        other = others[0] if others else None
        paths.append(
            plots.plot_anomaly_overlay(
                out / f"anomaly_map_{i:03d}.png",
                image,
                amap,
                gt_mask=mask,
                threshold=0.5,
                other_map=None if other is None else _slice_like(evaluations[other].anomaly_maps[i], image, main, i),
                other_threshold=0.5,
                labels=(_label(ours), _label(other) if other else "baseline"),
                title=f"test image {main.names[i]}",
            )
        )
    return paths


def _slice_like(amap, image, main, i):
    if amap.ndim == 3 and main.images[i].ndim == 4:
        depth = int(np.argmax(main.masks[i].reshape(len(main.masks[i]), -1).sum(1)))
        return amap[depth]
    return amap


def _label(block):
    return {"none": "baseline", "sspcab": "+SSPCAB", "ssmctb": "+SSMCTB"}.get(block, block)


def format_table(results, kind="video"):
    """A markdown table of the metrics, one row per block, in percent like the paper."""
    if kind == "video":
        columns = [("micro_auc", "Micro AUC"), ("macro_auc", "Macro AUC"), ("rbdc", "RBDC"), ("tbdc", "TBDC")]
        timing = ("ms_per_frame", "ms/frame")
    else:
        columns = [
            ("image_auroc", "Image AUROC"), ("image_ap", "Image AP"), ("pixel_auroc", "Pixel AUROC"),
            ("pixel_ap", "Pixel AP"), ("aupro", "AUPRO"),
        ]
        timing = ("ms_per_image", "ms/image")
    present = [c for c in columns if any(c[0] in r for r in results.values())]
    header = "| model | " + " | ".join(title for _, title in present) + f" | {timing[1]} |"
    lines = [header, "|" + " --- |" * (len(present) + 2)]
    for block, result in results.items():
        cells = [f"{100 * result[key]:.1f}" if key in result and np.isfinite(result[key]) else "n/a" for key, _ in present]
        lines.append(f"| {_label(block)} | " + " | ".join(cells) + f" | {result[timing[0]]:.2f} |")
    return "\n".join(lines)


def evaluate_saved(model_path, config):
    """Evaluate a saved `.keras` model on `config`'s test split; writes metrics.json and plots.

    The model's own input size, frame count and type decide `image_size`,
    `num_input_frames`, `channels` and `model`, so only the dataset options
    are needed.
    """
    path = pathlib.Path(model_path)
    if not path.is_file():
        raise ExperimentError(f"{model_path}: no such model file.")
    import keras_ssmctb.applications  # noqa: F401 (registers the models)

    model = keras.saving.load_model(path)
    names = {"FrameAutoencoder": "frame_autoencoder", "UNetPredictor": "unet", "DRAEM": "draem", "DRAEM3D": "draem3d"}
    config.model = names.get(type(model).__name__)
    if config.model is None:
        raise ExperimentError(f"{model_path} holds a {type(model).__name__}, not a keras_ssmctb application.")
    shape = tuple(model.input_shape[1:])
    config.image_size = int(shape[0])
    if config.model in ("frame_autoencoder", "unet"):
        config.num_input_frames = int(model.num_input_frames)
        config.channels = int(model.channels)
    config.epochs = 1
    prepared = prepare(config)
    if tuple(prepared.input_shape) != shape:
        raise ExperimentError(
            f"{model_path} takes inputs of shape {shape}, but dataset {config.dataset!r} gives "
            f"{tuple(prepared.input_shape)}."
        )
    evaluation = evaluate(model, prepared, config.use_block_error)
    out = pathlib.Path(config.out or path.parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps({"model": str(path), "results": evaluation.metrics}, indent=2))
    write_plots(out, prepared, {"model": evaluation})
    return evaluation.metrics
