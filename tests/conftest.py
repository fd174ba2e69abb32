import os
import pathlib
import tempfile

import keras
import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Decoded-frame caches of the whole run go to a temporary folder, not ~/.cache.
os.environ.setdefault("KERAS_SSMCTB_CACHE", tempfile.mkdtemp(prefix="keras_ssmctb_cache_"))


@pytest.fixture
def shared_data():
    """Path to ../shared/data; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.config.set_image_data_format("channels_last")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}, KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}"
