"""Ready anomaly-detection models with a one-argument block switch (SPEC section 3)."""

from keras_ssmctb.applications.anomaly_model import AnomalyModel
from keras_ssmctb.applications.anomaly_model import VideoAnomalyModel
from keras_ssmctb.applications.draem import DRAEM
from keras_ssmctb.applications.draem import DRAEM3D
from keras_ssmctb.applications.frame_autoencoder import FrameAutoencoder
from keras_ssmctb.applications.memory import Memory
from keras_ssmctb.applications.unet import UNetPredictor

__all__ = [
    "AnomalyModel",
    "DRAEM",
    "DRAEM3D",
    "FrameAutoencoder",
    "Memory",
    "UNetPredictor",
    "VideoAnomalyModel",
]
