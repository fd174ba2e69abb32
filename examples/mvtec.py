"""DRAEM baseline vs +SSPCAB vs +SSMCTB on images (the paper's Table 3 rows).

    KERAS_BACKEND=jax python examples/mvtec.py                                   # synthetic defects
    KERAS_BACKEND=jax python examples/mvtec.py --data-dir /data/mvtec --category bottle
    KERAS_BACKEND=jax python examples/mvtec.py --dataset folder-images \\
        --normal-dir ../shared/data/magnetic-tile/MT_Free/Imgs \\
        --abnormal-dir ../shared/data/magnetic-tile/MT_Blowhole/Imgs --mask-suffix .png
"""

import argparse

from keras_ssmctb import cli
from keras_ssmctb import experiment


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MVTec AD folder (with --category); default: synthetic defect images")
    parser.add_argument("--block", choices=experiment.BLOCKS, help="train only this variant (default: all three)")
    parser.add_argument("--out", default="outputs/mvtec")
    cli.add_data_arguments(parser, default_dataset="synthetic-images")
    cli.add_training_arguments(parser)
    args = parser.parse_args()
    dataset = "mvtec" if args.data_dir else args.dataset
    config = cli.config_from_args(args, dataset=dataset, root=args.data_dir or args.root, model="draem")
    blocks = [args.block] if args.block else list(experiment.BLOCKS)
    cli.run_example("mvtec.py", config, blocks)


if __name__ == "__main__":
    main()
