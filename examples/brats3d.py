"""DRAEM3D with and without the 3D SSMCTB on volumes (the paper's BRATS experiment).

    KERAS_BACKEND=jax python examples/brats3d.py          # synthetic brain-like volumes with lesions
"""

import argparse

from keras_ssmctb import cli
from keras_ssmctb import experiment


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--block", choices=experiment.BLOCKS, help="train only this variant (default: none and ssmctb)")
    parser.add_argument("--out", default="outputs/brats3d")
    cli.add_data_arguments(parser, default_dataset="synthetic-volumes")
    cli.add_training_arguments(parser)
    parser.set_defaults(image_size=32, batch_size=4)
    args = parser.parse_args()
    config = cli.config_from_args(args, model="draem3d")
    blocks = [args.block] if args.block else ["none", "ssmctb"]
    cli.run_example("brats3d.py", config, blocks)


if __name__ == "__main__":
    main()
