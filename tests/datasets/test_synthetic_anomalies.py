import cv2
import numpy as np
import pytest

from keras_ssmctb.datasets import DraemAnomalyDataset
from keras_ssmctb.datasets.synthetic_anomalies import perlin_noise


def smooth_images(shape, seed=0):
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(0, 1, s) for s in shape[1:-1]], indexing="ij")
    base = 0.5 + 0.2 * np.sin(6 * sum(grid))[None, ..., None]
    return np.clip(base + rng.normal(scale=0.02, size=shape), 0, 1).astype("float32")


@pytest.mark.parametrize("shape,resolution", [((32, 32), (4, 8)), ((30, 20), (3, 5)), ((16, 16, 16), (2, 4, 2))])
def test_perlin_noise_is_smooth_gradient_noise(shape, resolution):
    noise = perlin_noise(shape, resolution, np.random.default_rng(0))
    assert noise.shape == shape and noise.dtype == np.float32
    assert noise.min() >= -1.0 and noise.max() <= 1.0 and noise.std() > 0.05
    # Gradient noise is zero on the lattice points...
    lattice = tuple(slice(0, s, s // r) for s, r in zip(shape, resolution) if s % r == 0)
    if len(lattice) == len(shape):
        np.testing.assert_allclose(noise[lattice], 0.0, atol=1e-6)
    # ...and smooth between them: neighbours differ far less than the range.
    for axis in range(len(shape)):
        assert np.abs(np.diff(noise, axis=axis)).max() < 0.5


def test_batches_blend_anomalies_inside_the_mask_only():
    images = smooth_images((6, 32, 32, 3))
    dataset = DraemAnomalyDataset(images, batch_size=4, anomaly_probability=1.0, rotation_probability=0.0, seed=3)
    assert len(dataset) == 2
    augmented, (clean, mask) = dataset[0]
    assert augmented.shape == clean.shape == (4, 32, 32, 3) and mask.shape == (4, 32, 32, 1)
    for array in (augmented, clean, mask):
        assert array.dtype == np.float32 and array.min() >= 0.0 and array.max() <= 1.0
    assert set(np.unique(mask)) <= {0.0, 1.0} and mask.sum() > 0
    np.testing.assert_array_equal(augmented * (1 - mask), clean * (1 - mask))
    assert np.abs(augmented - clean)[mask[..., 0] > 0].mean() > 0.01
    # The clean targets are the input images (shuffled), not rotated here.
    assert any(np.array_equal(clean[0], image) for image in images)
    assert dataset[1][0].shape == (2, 32, 32, 3)


def test_anomaly_probability_zero_gives_clean_batches():
    images = smooth_images((4, 32, 32, 1))
    augmented, (clean, mask) = DraemAnomalyDataset(images, batch_size=4, anomaly_probability=0.0, rotation_probability=0.0)[0]
    np.testing.assert_array_equal(augmented, clean)
    assert mask.sum() == 0


def test_drop_remainder_leaves_out_the_short_batch():
    images = smooth_images((5, 16, 16, 1))
    assert len(DraemAnomalyDataset(images, batch_size=2)) == 3
    dataset = DraemAnomalyDataset(images, batch_size=2, drop_remainder=True)
    assert len(dataset) == 2 and dataset[1][0].shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match="batch_size=6 leaves no batch"):
        DraemAnomalyDataset(images, batch_size=6, drop_remainder=True)


def test_batches_are_deterministic_per_seed_epoch_and_index():
    images = smooth_images((8, 32, 32, 1))
    first = DraemAnomalyDataset(images, batch_size=4, anomaly_probability=1.0, seed=5)
    again = DraemAnomalyDataset(images, batch_size=4, anomaly_probability=1.0, seed=5)
    np.testing.assert_array_equal(again[1][0], first[1][0])  # order of access does not matter
    np.testing.assert_array_equal(again[0][0], first[0][0])
    other_seed = DraemAnomalyDataset(images, batch_size=4, anomaly_probability=1.0, seed=6)
    assert not np.array_equal(other_seed[0][0], first[0][0])
    first.on_epoch_end()
    assert not np.array_equal(first[0][0], again[0][0])


def test_volumes_get_3d_masks(tmp_path):
    volumes = smooth_images((2, 16, 32, 32, 1))
    dataset = DraemAnomalyDataset(volumes, batch_size=2, anomaly_probability=1.0, threshold=0.3, seed=0)
    augmented, (clean, mask) = dataset[0]
    assert augmented.shape == (2, 16, 32, 32, 1) and mask.shape == (2, 16, 32, 32, 1)
    assert mask.sum() > 0
    np.testing.assert_array_equal(augmented * (1 - mask), clean * (1 - mask))
    # The mask is a 3D blob: it changes along depth.
    assert any(not np.array_equal(m[0], m[d]) for m in mask for d in range(1, 16))
    with pytest.raises(ValueError, match="2D images"):
        DraemAnomalyDataset(volumes, anomaly_source_dir=tmp_path)


def write_texture(path, value):
    image = np.full((20, 24, 3), value, np.uint8)
    image[::4] = 255 - value  # stripes
    assert cv2.imwrite(str(path), image)


def test_texture_folder_is_the_anomaly_source(tmp_path):
    (tmp_path / "sub").mkdir()
    write_texture(tmp_path / "a.png", 10)
    write_texture(tmp_path / "sub" / "b.jpg", 240)
    images = smooth_images((4, 32, 32, 1))
    kwargs = dict(batch_size=4, anomaly_probability=1.0, rotation_probability=0.0, seed=2)
    textured = DraemAnomalyDataset(images, anomaly_source_dir=tmp_path, **kwargs)
    assert [p.name for p in textured.texture_files] == ["a.png", "b.jpg"]
    noise = DraemAnomalyDataset(images, **kwargs)
    augmented, (_, mask) = textured[0]
    assert mask.sum() > 0
    assert not np.array_equal(augmented, noise[0][0])


def test_bad_inputs_raise(tmp_path):
    images = smooth_images((2, 32, 32, 1))
    with pytest.raises(FileNotFoundError, match="not a folder"):
        DraemAnomalyDataset(images, anomaly_source_dir=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no images"):
        DraemAnomalyDataset(images, anomaly_source_dir=tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    broken = DraemAnomalyDataset(images, anomaly_source_dir=tmp_path, anomaly_probability=1.0)
    with pytest.raises(FileNotFoundError, match="broken.png"):
        broken[0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DraemAnomalyDataset(images * 255)
    with pytest.raises(ValueError, match="channel axis"):
        DraemAnomalyDataset(images[..., 0])
    with pytest.raises(ValueError, match="perlin_scale"):
        DraemAnomalyDataset(images, perlin_scale=(3, 3))
    with pytest.raises(ValueError, match="batch_size"):
        DraemAnomalyDataset(images, batch_size=0)
    with pytest.raises(ValueError, match="anomaly_probability"):
        DraemAnomalyDataset(images, anomaly_probability=1.5)
    with pytest.raises(IndexError):
        DraemAnomalyDataset(images, batch_size=2)[1]


def test_uint8_arrays_and_sequences_are_accepted():
    images = smooth_images((3, 32, 32, 1))
    as_uint8 = np.round(images * 255).astype(np.uint8)
    batch = DraemAnomalyDataset(as_uint8, batch_size=3, anomaly_probability=0.0, rotation_probability=0.0, shuffle=False)[0]
    np.testing.assert_allclose(batch[1][0], as_uint8 / 255.0, atol=1e-6)
    sequence = [image for image in images]
    batch = DraemAnomalyDataset(sequence, batch_size=3, anomaly_probability=0.0, rotation_probability=0.0, shuffle=False)[0]
    np.testing.assert_array_equal(batch[1][0], images)
