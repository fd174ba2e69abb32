"""Data-parallel training through the backends' own engines.

`data_parallel_scope()` is what `--distribute` switches on in the examples
and the CLI. It does not implement any parallelism itself:

- JAX: `keras.distribution.DataParallel` over the local devices (all
  hosts' devices after `keras.distribution.initialize()`), set as the
  current distribution for the duration of the scope. Variables are
  replicated, each batch is split along its first axis, and XLA inserts the
  gradient all-reduce, so a step equals a single-device step on the same
  global batch.
- TensorFlow: a `tf.distribute.MirroredStrategy` scope over the local GPUs
  (the CPU when there is none). TensorFlow is imported lazily, only here.
- PyTorch: not supported; Keras has no data-parallel distribution for torch,
  and `torch.distributed` (DDP, torchrun) is outside this package.
"""

import contextlib
import functools

import keras


@contextlib.contextmanager
def data_parallel_scope(devices=None):
    """Context manager for data-parallel training on the current backend.

    Build, compile and fit the model inside the scope; the batch size given
    to `fit` is the global batch, split evenly over the devices. On JAX the
    batch size (and the size of the last batch) must be a multiple of the
    number of devices. BatchNormalization statistics are computed over the
    global batch on JAX and per device on TensorFlow (use
    `BatchNormalization(synchronized=True)` for global statistics there).

    Args:
        devices: list of device names to use, in the backend's notation
            (JAX: `keras.distribution.list_devices()`, e.g. `"gpu:0"`;
            TensorFlow: e.g. `"/gpu:0"`), or None for every local device
            of the default kind (all processes' devices on a multi-host JAX
            setup).

    Yields:
        The number of replicas (devices) a batch is split over.

    Raises:
        ValueError: the backend is PyTorch (or another backend without
            data-parallel support), or `devices` is not a non-empty list of
            strings.

    Example:

    ```python
    from keras_ssmctb.applications import UNetPredictor
    from keras_ssmctb.distribute import data_parallel_scope

    with data_parallel_scope() as replicas:
        model = UNetPredictor((64, 64, 4), block="ssmctb")
        model.compile(optimizer="adam")
        model.fit(clips, targets, batch_size=8 * replicas, epochs=1)
    ```
    """
    if devices is not None and (
        not isinstance(devices, (list, tuple))
        or not devices
        or not all(isinstance(d, str) for d in devices)
    ):
        raise ValueError(
            f"`devices` must be None or a non-empty list of device names. Received: devices={devices!r}"
        )
    backend = keras.backend.backend()
    if backend == "jax":
        distribution = keras.distribution.DataParallel(devices=list(devices) if devices else None)
        with distribution.scope():
            yield int(distribution.device_mesh.devices.size)
    elif backend == "tensorflow":
        strategy = _mirrored_strategy(tuple(devices) if devices else None)
        with strategy.scope():
            yield int(strategy.num_replicas_in_sync)
    else:
        raise ValueError(
            f"Data-parallel training (--distribute) runs on the JAX backend "
            f"(keras.distribution.DataParallel) and the TensorFlow backend "
            f"(tf.distribute.MirroredStrategy). Received: KERAS_BACKEND={backend!r}. "
            f"Run with KERAS_BACKEND=jax or tensorflow, or train on one device; "
            f"PyTorch DDP (torchrun) is not supported by this package."
        )


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    """One `MirroredStrategy` per device set for the whole process.

    A second strategy over the same devices restarts TensorFlow's collective
    instance keys, and its gradient all-reduce then collides with the first
    one's cached collective parameters ("Shape mismatch in the collective
    instance ...") as soon as the two models differ in size, e.g. the
    baseline and +SSMCTB models of one run.
    """
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices) if devices else None)
