import keras
import numpy as np
import pytest

from keras_ssmctb.applications import Memory


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def features(seed=0, shape=(2, 3, 3, 4)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_read_is_query_plus_soft_memory_read():
    layer = Memory(memory_size=3)
    x = features()
    out = to_numpy(layer(x))
    query = normalize(x.reshape(-1, 4))
    items = normalize(to_numpy(layer.items))
    read = softmax(query @ items.T, axis=1) @ items
    np.testing.assert_allclose(out.reshape(-1, 8)[:, :4], query, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.reshape(-1, 8)[:, 4:], read, rtol=1e-5, atol=1e-6)


def test_compactness_and_separateness_losses():
    layer = Memory(memory_size=5, compactness_weight=0.3, separateness_weight=0.7, margin=0.5)
    x = features(1)
    layer(x)
    query = normalize(x.reshape(-1, 4)).astype(np.float64)
    items = normalize(to_numpy(layer.items).astype(np.float64))
    ranked = np.argsort(-(query @ items.T), axis=1)
    positive, negative = items[ranked[:, 0]], items[ranked[:, 1]]
    compactness = np.mean((query - positive) ** 2)
    distance = lambda a, b: np.linalg.norm(a - b, axis=-1)
    separateness = np.mean(np.maximum(distance(query, positive) - distance(query, negative) + 0.5, 0))
    losses = [float(to_numpy(v)) for v in layer.losses]
    np.testing.assert_allclose(losses, [0.3 * compactness, 0.7 * separateness], rtol=1e-4)


def test_training_updates_items_as_mnad():
    layer = Memory(memory_size=3)
    x = features(2)
    layer(x)  # build; inference leaves the items alone
    before = normalize(to_numpy(layer.items).astype(np.float64))
    np.testing.assert_allclose(normalize(to_numpy(layer.items)), before, rtol=1e-6)
    out = to_numpy(layer(x, training=True))
    query = normalize(x.reshape(-1, 4).astype(np.float64))
    similarity = query @ before.T
    nearest = similarity.argmax(axis=1)
    query_softmax = softmax(similarity, axis=0)
    weights = np.eye(3)[nearest] * query_softmax / query_softmax.max(axis=0, keepdims=True)
    expected = normalize(before + weights.T @ query)
    np.testing.assert_allclose(to_numpy(layer.items), expected, rtol=1e-4, atol=1e-6)
    # The read uses the updated items.
    read = softmax(query @ expected.T, axis=1) @ expected
    np.testing.assert_allclose(out.reshape(-1, 8)[:, 4:], read, rtol=1e-4, atol=1e-6)


def test_config_round_trip():
    layer = Memory(memory_size=7, compactness_weight=0.2, separateness_weight=0.05, margin=2.0, name="m")
    revived = Memory.from_config(layer.get_config())
    assert revived.get_config() == layer.get_config()
    assert Memory(4).compute_output_shape((None, 2, 2, 6)) == (None, 2, 2, 12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"memory_size": 1}, "memory_size"),
        ({"memory_size": 2.5}, "memory_size"),
        ({"compactness_weight": -1}, "compactness_weight"),
        ({"margin": "big"}, "margin"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Memory(**kwargs)
