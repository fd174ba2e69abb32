"""The main job: baseline vs +SSPCAB vs +SSMCTB on video (the paper's Table 5 rows).

    KERAS_BACKEND=jax python examples/avenue.py                      # synthetic Avenue-like scene
    KERAS_BACKEND=jax python examples/avenue.py --data-dir ../shared/data/avenue-sample

Trains the frame autoencoder (Park et al.) three ways, evaluates each on the
test videos and prints micro/macro AUC, RBDC, TBDC and ms/frame; writes the
models, metrics.json and plots to --out.
"""

import argparse

from keras_ssmctb import cli
from keras_ssmctb import experiment


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="CUHK Avenue folder (published layout); default: the synthetic scene")
    parser.add_argument("--block", choices=experiment.BLOCKS, help="train only this variant (default: all three)")
    parser.add_argument("--out", default="outputs/avenue")
    cli.add_data_arguments(parser)
    cli.add_training_arguments(parser)
    args = parser.parse_args()
    dataset = "avenue" if args.data_dir else args.dataset
    config = cli.config_from_args(args, dataset=dataset, root=args.data_dir or args.root)
    blocks = [args.block] if args.block else list(experiment.BLOCKS)
    cli.run_example("avenue.py", config, blocks)


if __name__ == "__main__":
    main()
