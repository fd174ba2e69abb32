"""The `ssmctb` command line: train, evaluate and export (also `python -m keras_ssmctb`).

Usage:

    ssmctb train --dataset synthetic-video --block ssmctb --epochs 3 --out runs/ssmctb
    ssmctb evaluate runs/ssmctb/model.keras --dataset synthetic-video
    ssmctb export runs/ssmctb/model.keras exported/ssmctb --version 1

Mistakes a user can make (an unknown dataset, a folder without the expected
layout, a model that does not fit the data) print one line and exit with
status 2, not a traceback.
"""

import argparse
import json
import sys

from keras_ssmctb import experiment


def add_data_arguments(parser, default_dataset="synthetic-video"):
    """Dataset, size and data-layout options shared by `train`, `evaluate` and the examples."""
    parser.add_argument("--dataset", default=default_dataset, help=f"one of: {', '.join(experiment.DATASETS)}")
    parser.add_argument("--root", help="dataset folder in its published layout (not for synthetic sets)")
    parser.add_argument("--image-size", type=int, default=64, help="frames/images are resized to SxS (default 64)")
    parser.add_argument("--category", help="MVTec AD category, e.g. bottle")
    parser.add_argument("--normal-dir", nargs="+", help="folder(s) of normal images (folder-images)")
    parser.add_argument("--abnormal-dir", nargs="+", help="folder(s) of abnormal images (folder-images)")
    parser.add_argument("--mask-dir", nargs="+", help="mask folder(s) (folder-images)")
    parser.add_argument("--mask-suffix", help="mask of X.jpg is X<suffix> beside it, e.g. .png")
    parser.add_argument("--max-videos", type=int, help="read at most N videos per split")
    parser.add_argument("--use-block-error", action="store_true", help="add the block's own error map to the score (paper Sec. 3.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object on the last line")


def add_training_arguments(parser, default_epochs=3):
    parser.add_argument("--model", choices=experiment.MODELS, help="default: frame_autoencoder (video), draem (images), draem3d (volumes)")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--base-filters", type=int, help="model width (default: the model's own)")
    parser.add_argument("--num-input-frames", type=int, default=4, help="T past frames per clip (video)")
    parser.add_argument("--block-kwargs", type=json.loads, help='JSON dict for the block, e.g. \'{"dilation": 2}\'')
    parser.add_argument("--distribute", action="store_true", help="data-parallel over all local devices (JAX, TensorFlow)")


def config_from_args(args, **overrides):
    fields = {f for f in experiment.RunConfig.__dataclass_fields__}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    values.update(overrides)
    return experiment.RunConfig(**values)


def _parser():
    parser = argparse.ArgumentParser(prog="ssmctb", description="SSMCTB anomaly detection: train, evaluate, export.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on a dataset's normal data, evaluate on its test split")
    add_data_arguments(train)
    add_training_arguments(train)
    train.add_argument("--block", choices=experiment.BLOCKS, default="ssmctb")
    train.add_argument("--out", default="outputs/train", help="folder for model.keras, metrics.json and plots")

    evaluate = commands.add_parser("evaluate", help="evaluate a saved .keras model on a test split")
    evaluate.add_argument("model_path", help="a model.keras written by `ssmctb train`")
    add_data_arguments(evaluate)
    evaluate.add_argument("--out", help="folder for metrics.json and plots (default: beside the model)")

    from keras_ssmctb import export

    export.add_export_arguments(
        commands.add_parser("export", help="export a .keras model for TensorFlow Serving")
    )
    return parser


USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, ImportError, RuntimeError)


def report_user_errors(command, function, *args, **kwargs):
    """Run `function`; a user's mistake becomes one line on stderr and exit status 2."""
    try:
        return function(*args, **kwargs)
    except USER_ERRORS as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        sys.exit(2)


def run_example(script, config, blocks):
    """What the example scripts do once their arguments are parsed.

    Trains and evaluates one model per block (`experiment.run`), prints the
    metrics table and where the outputs went; user errors exit with status 2.
    """
    results = report_user_errors(script, experiment.run, config, blocks)
    print(experiment.format_table(results, experiment.dataset_kind(config.dataset)))
    print(f"models, metrics.json and plots in {config.out}/")
    return results


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            config = config_from_args(args)
            results = experiment.run(config, blocks=[args.block], verbose=0 if args.json else "auto")
            kind = experiment.dataset_kind(config.dataset)
            print(experiment.format_table(results, kind))
            print(f"wrote {config.out}/model.keras, {config.out}/metrics.json and plots")
            metrics = results[args.block]
        elif args.command == "evaluate":
            config = config_from_args(args)
            metrics = experiment.evaluate_saved(args.model_path, config)
            print(experiment.format_table({"model": metrics}, experiment.dataset_kind(config.dataset)))
        else:
            from keras_ssmctb import export

            print(f"exported to {export.run_export(args)}")
            return 0
    except USER_ERRORS as error:
        print(f"ssmctb {args.command}: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
