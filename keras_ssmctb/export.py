"""TF Serving export of a Keras model trained under any backend.

This is the package's one boundary to TensorFlow: `tensorflow` is imported
inside the functions that need it, never at module import, so
`import keras_ssmctb` works without it. TensorFlow is needed only to export.

How each backend exports (`export_for_serving`):

- TensorFlow and JAX: in process, through `keras.export.ExportArchive` (JAX
  functions are converted by `jax2tf` and stored as StableHLO in
  `XlaCallModule` ops, lowered for `jax_platforms`).
- PyTorch: Keras' torch path to a SavedModel needs torch-xla, which this
  package does not depend on. The model is saved to a temporary `.keras`
  file and exported by a TensorFlow subprocess
  (`python -m keras_ssmctb.export` with `KERAS_BACKEND=tensorflow`).

The command line `ssmctb export MODEL.keras OUT [--version N]` calls
`export_main`.
"""

import argparse
import importlib
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import keras

DEFAULT_JAX_PLATFORMS = ("cpu", "cuda")
SERVING_SIGNATURE = "serving_default"
_VALID_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_JAX_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def export_for_serving(
    model,
    export_base,
    version=1,
    *,
    overwrite=False,
    input_shape=None,
    input_name=None,
    use_block_error=False,
    block_error_weight=1.0,
    jax_platforms=DEFAULT_JAX_PLATFORMS,
):
    """Export a model as a TF Serving SavedModel at `export_base/<version>/`.

    TF Serving watches a base folder and serves the highest numbered
    sub-folder, each a SavedModel. This writes that sub-folder with one
    signature, `serving_default` (method `tensorflow/serving/predict`), whose
    single named input has a dynamic batch dimension:

    - A model with a `serving_outputs(inputs)` method (every
      `keras_ssmctb.applications` model) is exported through it. Its input
      is `model.serving_input_shape` (video prediction models take the T
      input frames and the target frame stacked on channels, the target
      last); its outputs are `anomaly_score` (per sample), `anomaly_map` (per
      pixel) and the model's `prediction` or `reconstruction`. The
      training-only losses (the block's, the memory's) are not part of it.
    - Any other Keras model with one input is exported as it is: its outputs
      under the model's output names (`model.output_names`, or the keys of a
      dict output). No anomaly score is invented for it.

    The export is written into a hidden temporary folder inside
    `export_base` and renamed into place at the end, so TF Serving, which
    only considers numeric folder names, never loads a half-written version.

    Models trained under PyTorch are saved to a temporary `.keras` file and
    exported by a TensorFlow subprocess; every class the model uses must be
    importable there (registered with
    `keras.saving.register_keras_serializable` in a module, not in
    `__main__`).

    Args:
        model: a built `keras.Model`.
        export_base: the model's base folder (created if missing), the
            folder to pass to `tensorflow_model_server --model_base_path`.
        version: non-negative int, the version sub-folder (default 1).
        overwrite: replace `export_base/<version>` if it exists; otherwise
            an existing version is an error.
        input_shape: shape of one sample (no batch axis), for models whose
            input shape is not known from the model (e.g. a subclassed model).
            Default: `model.serving_input_shape`, else the model's input.
        input_name: the signature's input name. Default: the name of the
            model's `keras.Input` (`"frames"`, `"images"`, ...).
        use_block_error: export the anomaly map with the self-supervised
            block's error added (see the application's `score`); only for
            models with `serving_outputs`.
        block_error_weight: weight of the block's error map.
        jax_platforms: JAX only: the platforms the exported StableHLO is
            lowered for, a tuple of "cpu", "cuda", "rocm", "tpu". The default
            serves on TF Serving's CPU and GPU images.

    Returns:
        The `pathlib.Path` of `export_base/<version>`.

    Raises:
        ValueError: the model has no known input shape, has several inputs,
            or an argument is invalid.
        FileExistsError: `export_base/<version>` exists and `overwrite` is
            False.
        ImportError: TensorFlow is not installed.

    Example:

    ```python
    from keras_ssmctb.applications import UNetPredictor
    from keras_ssmctb.export import export_for_serving

    model = UNetPredictor((64, 64, 4), block="ssmctb")
    model.compile(optimizer="adam")
    # model.fit(...)
    export_for_serving(model, "serving/ssmctb", version=1)
    # tensorflow_model_server --rest_api_port=8501 --model_name=ssmctb \
    #     --model_base_path=$PWD/serving/ssmctb
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: {type(model).__name__}")
    target = _target_dir(export_base, version, overwrite)
    shape = _serving_input_shape(model, input_shape)
    name = _input_name(model, input_name)
    has_serving_outputs = callable(getattr(model, "serving_outputs", None))
    if use_block_error and not has_serving_outputs:
        raise ValueError(
            "`use_block_error=True` needs a model with `serving_outputs` (a "
            f"keras_ssmctb.applications model); {type(model).__name__} has none."
        )
    jax_platforms = _check_jax_platforms(jax_platforms)
    _require_tensorflow()
    if keras.backend.backend() == "torch":
        _export_torch_model(model, target, shape, name, use_block_error, block_error_weight, overwrite)
    elif keras.backend.backend() in ("tensorflow", "jax"):
        _write_archive(model, target, shape, name, use_block_error, block_error_weight, jax_platforms)
    else:
        raise ValueError(
            f"Export supports the tensorflow, jax and torch backends. "
            f"Received: KERAS_BACKEND={keras.backend.backend()!r}"
        )
    return target


def export_from_file(model_path, export_base, version=1, overwrite=False, *, import_modules=(), **kwargs):
    """Load a `.keras` file and export it with `export_for_serving`.

    The file is loaded without its training configuration, under the current
    backend (under PyTorch the file itself is handed to a TensorFlow
    subprocess). `keras_ssmctb` and `keras_ssmctb.applications` are imported
    first, so their registered classes load; name other modules with
    custom classes in `import_modules`.

    Args:
        model_path: path of a `.keras` file.
        export_base: the model's base folder.
        version: the version sub-folder (default 1).
        overwrite: replace an existing version.
        import_modules: names of modules to import before loading.
        **kwargs: other arguments of `export_for_serving`.

    Returns:
        The `pathlib.Path` of `export_base/<version>`.
    """
    model_path = pathlib.Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"Model file not found: expected a .keras file at '{model_path}'.")
    if model_path.suffix != ".keras":
        raise ValueError(f"`model_path` must be a .keras file. Received: '{model_path}'")
    import_modules = ["keras_ssmctb.applications", *import_modules]
    for module in import_modules:
        importlib.import_module(module)
    if keras.backend.backend() == "torch":
        # Loading under torch only to save the same file again would be wasted
        # work: hand the file to the TensorFlow subprocess directly.
        target = _target_dir(export_base, version, overwrite)
        _check_jax_platforms(kwargs.pop("jax_platforms", DEFAULT_JAX_PLATFORMS))
        _require_tensorflow()
        _run_tensorflow_export(model_path, target, import_modules, overwrite=overwrite, **kwargs)
        return target
    model = keras.saving.load_model(model_path, compile=False)
    return export_for_serving(model, export_base, version, overwrite=overwrite, **kwargs)


def add_export_arguments(parser):
    """Add `export_main`'s arguments to an `argparse` parser (for `ssmctb export`)."""
    parser.add_argument("model", help="path of the trained model, a .keras file")
    parser.add_argument("export_base", help="base folder; the export goes to EXPORT_BASE/VERSION")
    parser.add_argument("--version", type=int, default=1, help="version sub-folder (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument("--input-name", help="signature input name (default: the model's input name)")
    parser.add_argument(
        "--input-shape",
        type=int,
        nargs="+",
        help="shape of one sample without the batch axis, for models that do not know it",
    )
    parser.add_argument(
        "--use-block-error",
        action="store_true",
        help="add the self-supervised block's error to the anomaly map",
    )
    parser.add_argument("--block-error-weight", type=float, default=1.0)
    parser.add_argument(
        "--jax-platforms",
        nargs="+",
        default=list(DEFAULT_JAX_PLATFORMS),
        help="JAX backend: platforms to lower for (default: cpu cuda)",
    )
    parser.add_argument(
        "--import",
        dest="import_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="module defining custom classes of the model (repeatable)",
    )
    return parser


def run_export(args):
    """Run an export from parsed `add_export_arguments` arguments; returns the path."""
    return export_from_file(
        args.model,
        args.export_base,
        args.version,
        overwrite=args.overwrite,
        import_modules=args.import_modules,
        input_shape=tuple(args.input_shape) if args.input_shape else None,
        input_name=args.input_name,
        use_block_error=args.use_block_error,
        block_error_weight=args.block_error_weight,
        jax_platforms=tuple(args.jax_platforms),
    )


def export_main(argv=None):
    """`ssmctb export MODEL.keras OUT [--version N] [--overwrite] ...`; returns an exit code."""
    parser = add_export_arguments(
        argparse.ArgumentParser(
            prog="ssmctb export",
            description="Export a trained .keras model for TensorFlow Serving.",
        )
    )
    args = parser.parse_args(argv)
    try:
        target = run_export(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, RuntimeError) as error:
        print(f"ssmctb export: error: {error}", file=sys.stderr)
        return 2
    print(f"Exported '{args.model}' to '{target}' (signature '{SERVING_SIGNATURE}').")
    return 0


# Validation.


def _target_dir(export_base, version, overwrite):
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(
            f"`version` must be a non-negative int (TF Serving's numeric version "
            f"folder). Received: version={version!r}"
        )
    if not isinstance(export_base, (str, os.PathLike)) or not str(export_base):
        raise ValueError(f"`export_base` must be a folder path. Received: export_base={export_base!r}")
    base = pathlib.Path(export_base)
    if base.exists() and not base.is_dir():
        raise ValueError(f"`export_base` must be a folder; '{base}' is a file.")
    target = base / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"'{target}' already exists: version {version} of this model was exported "
            f"before. Pass a new `version`, or `overwrite=True` (--overwrite) to replace it."
        )
    return target


def _serving_input_shape(model, input_shape):
    if input_shape is None:
        input_shape = getattr(model, "serving_input_shape", None)
        if input_shape is None:
            inputs = _model_inputs(model)
            if inputs is None:
                raise ValueError(
                    f"The model '{model.name}' has no known input shape: it is not a "
                    "functional model built on `keras.Input`. Pass `input_shape=` "
                    "(one sample, no batch axis), or build the model from `keras.Input`."
                )
            if len(inputs) != 1:
                raise ValueError(
                    f"Export supports models with one input; '{model.name}' has "
                    f"{len(inputs)}: {[t.name for t in inputs]}."
                )
            input_shape = tuple(inputs[0].shape)[1:]
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(
            f"Export needs the model's input shape without the batch axis, every "
            f"dimension a positive int (the batch dimension is the only dynamic "
            f"one). Received for '{model.name}': {input_shape!r}. Pass `input_shape=`."
        )
    return shape


def _model_inputs(model):
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _input_name(model, input_name):
    if input_name is None:
        inputs = _model_inputs(model)
        input_name = inputs[0].name if inputs and len(inputs) == 1 else "inputs"
    if not isinstance(input_name, str) or not _VALID_NAME.match(input_name):
        raise ValueError(
            f"`input_name` must start with a letter and hold only letters, digits, "
            f"'_', '.' or '-'. Received: input_name={input_name!r}"
        )
    return input_name


def _check_jax_platforms(jax_platforms):
    platforms = tuple(jax_platforms) if isinstance(jax_platforms, (list, tuple)) else None
    if not platforms or any(p not in _JAX_PLATFORMS for p in platforms):
        raise ValueError(
            f"`jax_platforms` must be a non-empty tuple of {_JAX_PLATFORMS}. "
            f"Received: jax_platforms={jax_platforms!r}"
        )
    return platforms


def _require_tensorflow():
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "Exporting for TF Serving needs TensorFlow, which is not installed. "
            "Install it with `pip install keras-ssmctb[tensorflow]`; training and "
            "scoring do not need it."
        )


# Writing.


def _serving_function(model, use_block_error, block_error_weight):
    if callable(getattr(model, "serving_outputs", None)):
        kwargs = {}
        if use_block_error:
            kwargs = {"use_block_error": True, "block_error_weight": block_error_weight}

        def serve(inputs):
            outputs = model.serving_outputs(inputs, **kwargs)
            if not isinstance(outputs, dict) or not {"anomaly_map", "anomaly_score"} <= set(outputs):
                raise ValueError(
                    f"{type(model).__name__}.serving_outputs must return a dict with "
                    f"'anomaly_map' and 'anomaly_score'. Received: "
                    f"{sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__}"
                )
            return {
                key: keras.ops.cast(value, "float32") if "float" in str(value.dtype) else value
                for key, value in outputs.items()
            }

        return serve

    def serve(inputs):
        outputs = model(inputs, training=False)
        if isinstance(outputs, dict):
            return dict(outputs)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(outputs) or len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(names, outputs))

    return serve


def _write_archive(model, target, shape, name, use_block_error, block_error_weight, jax_platforms):
    import tensorflow as tf

    inputs = _model_inputs(model)
    dtype = inputs[0].dtype if inputs else "float32"
    archive = keras.export.ExportArchive()
    archive.track(model)
    kwargs = {}
    if keras.backend.backend() == "jax":
        # Serving needs no gradients: without them the SavedModel is smaller
        # and loads without "unsaved custom gradients" warnings.
        kwargs["jax2tf_kwargs"] = {"native_serialization_platforms": jax_platforms, "with_gradient": False}
    archive.add_endpoint(
        SERVING_SIGNATURE,
        _serving_function(model, use_block_error, block_error_weight),
        input_signature=[tf.TensorSpec((None,) + tuple(shape), dtype, name=name)],
        **kwargs,
    )
    base = target.parent
    base.mkdir(parents=True, exist_ok=True)
    # A hidden, non-numeric name: TF Serving ignores the folder until the
    # rename. Made with mkdir (not mkdtemp's 0700) so the version folder gets
    # the usual permissions and a server running as another user can read it.
    staging = base / f".export-{target.name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        archive.write_out(str(staging), verbose=False)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _class_modules(model):
    """Modules (outside Keras) that define the classes of `model` and its layers."""
    modules = set()
    stack = [model]
    while stack:
        layer = stack.pop()
        module = type(layer).__module__
        if not module.startswith("keras.") and module != "keras":
            if module == "__main__":
                raise ValueError(
                    f"The class {type(layer).__name__} of the model is defined in "
                    "__main__, so the TensorFlow subprocess that exports torch-trained "
                    "models cannot load it. Move it to an importable module (registered "
                    "with keras.saving.register_keras_serializable), or export under "
                    "the tensorflow or jax backend."
                )
            modules.add(module)
        stack.extend(getattr(layer, "layers", []) or [])
    return sorted(modules)


def _export_torch_model(model, target, shape, name, use_block_error, block_error_weight, overwrite):
    modules = _class_modules(model)
    with tempfile.TemporaryDirectory(prefix="ssmctb-export-") as tmp:
        path = pathlib.Path(tmp) / "model.keras"
        model.save(path)
        _run_tensorflow_export(
            path,
            target,
            modules,
            overwrite=overwrite,
            input_shape=shape,
            input_name=name,
            use_block_error=use_block_error,
            block_error_weight=block_error_weight,
        )


def _run_tensorflow_export(
    model_path,
    target,
    import_modules,
    overwrite=False,
    input_shape=None,
    input_name=None,
    use_block_error=False,
    block_error_weight=1.0,
):
    command = [
        sys.executable,
        "-m",
        "keras_ssmctb.export",
        str(model_path),
        str(target.parent),
        "--version",
        target.name,
    ]
    if overwrite:
        command.append("--overwrite")
    if input_shape is not None:
        command += ["--input-shape", *map(str, input_shape)]
    if input_name is not None:
        command += ["--input-name", input_name]
    if use_block_error:
        command += ["--use-block-error", "--block-error-weight", repr(float(block_error_weight))]
    for module in import_modules:
        command += ["--import", module]
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Modules importable here must be importable in the subprocess too.
    env["PYTHONPATH"] = os.pathsep.join(
        [p for p in sys.path if p] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"The TensorFlow subprocess exporting '{model_path}' failed (exit code "
            f"{result.returncode}):\n{result.stderr.strip()[-3000:]}"
        )


if __name__ == "__main__":
    sys.exit(export_main())
