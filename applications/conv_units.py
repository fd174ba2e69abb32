"""The conv units the host models are built from (2D or 3D).

A unit is conv (3x3 or 3x3x3, same padding) -> optional batch norm -> ReLU,
named `<name>_conv`, `<name>_bn`, `<name>_relu`, so a self-supervised block
can replace one unit and tests can find what it replaced. Batch norm uses
PyTorch's defaults (momentum 0.1 there, 0.9 here; epsilon 1e-5), as the
reference implementations of the host models are PyTorch or TF1 code.
"""

import keras


def conv_layer(rank, filters, kernel_size, name, **kwargs):
    conv_class = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    return conv_class(filters, kernel_size, padding="same", name=name, **kwargs)


def conv_unit(x, filters, name, rank=2, batch_norm=True, kernel_size=3):
    """conv -> (batch norm) -> ReLU, returning the output tensor."""
    x = conv_layer(rank, filters, kernel_size, f"{name}_conv")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def max_pool(x, rank, name):
    pool_class = keras.layers.MaxPooling2D if rank == 2 else keras.layers.MaxPooling3D
    return pool_class(2, name=name)(x)
