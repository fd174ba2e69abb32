"""Readers for the benchmark layouts, synthetic data, and PyDataset pipelines.

Video sources (every reader and the synthetic scene) return a `VideoSplit`
of `Video` objects; image sources an `ImageSplit`; volume sources a
`VolumeSplit`. The pipelines batch them for Keras.
"""

from keras_ssmctb.datasets.avenue import read_avenue
from keras_ssmctb.datasets.cache import default_cache_dir
from keras_ssmctb.datasets.frame_folder import read_frame_folder
from keras_ssmctb.datasets.frame_folder import read_label_file
from keras_ssmctb.datasets.images import ImageSplit
from keras_ssmctb.datasets.images import read_image_folder
from keras_ssmctb.datasets.mvtec import read_mvtec
from keras_ssmctb.datasets.pipelines import FrameClipDataset
from keras_ssmctb.datasets.pipelines import ImageDataset
from keras_ssmctb.datasets.pipelines import VolumeDataset
from keras_ssmctb.datasets.shanghaitech import read_shanghaitech
from keras_ssmctb.datasets.synthetic_anomalies import DraemAnomalyDataset
from keras_ssmctb.datasets.synthetic_images import make_synthetic_images
from keras_ssmctb.datasets.synthetic_video import make_synthetic_video
from keras_ssmctb.datasets.synthetic_volumes import make_synthetic_volumes
from keras_ssmctb.datasets.ucsd import read_ucsd
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoSplit
from keras_ssmctb.datasets.volumes import VolumeSplit
from keras_ssmctb.datasets.volumes import read_volumes

__all__ = [
    "DraemAnomalyDataset",
    "FrameClipDataset",
    "ImageDataset",
    "ImageSplit",
    "Video",
    "VideoSplit",
    "VolumeDataset",
    "VolumeSplit",
    "default_cache_dir",
    "make_synthetic_images",
    "make_synthetic_video",
    "make_synthetic_volumes",
    "read_avenue",
    "read_frame_folder",
    "read_image_folder",
    "read_label_file",
    "read_mvtec",
    "read_shanghaitech",
    "read_ucsd",
    "read_volumes",
]
