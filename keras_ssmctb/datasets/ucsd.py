"""UCSD Pedestrian (Ped1, Ped2) reader (Mahadevan et al., CVPR 2010)."""

import re

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.ground_truth import labels_from_intervals
from keras_ssmctb.datasets.ground_truth import read_interval_mat
from keras_ssmctb.datasets.video import ImageFilesSource
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoSplit

_M_FILE_LINE = re.compile(r"\.gt_frame\s*=\s*\[([^\]]*)\]")


def parse_ucsd_m_file(path):
    """Parse `UCSDpedN.m` into per-video abnormal intervals.

    Each line `TestVideoFile{end+1}.gt_frame = [5:90, 140:200];` gives one
    test video's abnormal frames as MATLAB ranges (1-based, inclusive); a
    single number `[7]` is a one-frame range.

    Returns:
        A list (one entry per test video, in file order) of lists of
        `(first, last)` pairs.

    Raises:
        ValueError: the file has no `gt_frame` line, or a range is malformed.
    """
    path = decoding.require_file(path, "UCSD ground-truth file")
    text = path.read_text(encoding="utf-8", errors="replace")
    videos = []
    for match in _M_FILE_LINE.finditer(text):
        intervals = []
        for part in re.split(r"[,\s]+", match.group(1).strip()):
            if not part:
                continue
            bounds = part.split(":")
            try:
                if len(bounds) == 1:
                    first = last = int(bounds[0])
                elif len(bounds) == 2:
                    first, last = int(bounds[0]), int(bounds[1])
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"'{path}': cannot parse the frame range '{part}' in '{match.group(0)}'."
                ) from None
            intervals.append((first, last))
        videos.append(intervals)
    if not videos:
        raise ValueError(f"'{path}' has no 'TestVideoFile{{end+1}}.gt_frame = [...]' line.")
    return videos


def _locate(root, number):
    """The dataset folder and its layout ("original" or "extracted")."""
    root = decoding.require_dir(root, "UCSD root folder")
    original, extracted = f"UCSDped{number}", f"ped{number}"
    candidates = [(root / original, "original"), (root / extracted, "extracted")]
    if root.name == original:
        candidates.insert(0, (root, "original"))
    if root.name == extracted:
        candidates.insert(0, (root, "extracted"))
    for folder, layout in candidates:
        if layout == "original" and ((folder / "Train").is_dir() or (folder / "Test").is_dir()):
            return folder, layout
        if layout == "extracted" and (
            (folder / "training").is_dir() or (folder / "testing").is_dir()
        ):
            return folder, layout
    raise FileNotFoundError(
        f"No UCSD Ped{number} data under '{root}': expected "
        f"'{root / original}/{{Train,Test}}' (original layout) or "
        f"'{root / extracted}/{{training,testing}}/frames' (frames-extracted layout)."
    )


def read_ucsd(root, subset="ped2", split="test", cache_dir=None):
    """Read a split of UCSD Ped1 or Ped2, original or frames-extracted layout.

    Layouts accepted (`root` may be the folder holding `UCSDpedN`/`pedN`, or
    that folder itself):

    - Original: `UCSDpedN/Train/TrainNNN/*.tif`, `UCSDpedN/Test/TestNNN/*.tif`,
      pixel masks `UCSDpedN/Test/TestNNN_gt/*.bmp` (one per frame; optional
      per video, since Ped1 has them for only some videos), frame labels from
      `UCSDpedN/Test/UCSDpedN.m` (or `UCSDpedN/UCSDpedN.m`): one
      `TestVideoFile{end+1}.gt_frame = [a:b, c:d];` line per test video in
      order, 1-based inclusive ranges.
    - Frames extracted: `pedN/training/frames/NN/*.jpg`,
      `pedN/testing/frames/NN/*.jpg`, labels `pedN/pedN.mat` whose variable
      `gt` is a 1×V cell array: cell v is a 2×K array whose columns are
      `[first; last]` abnormal frame numbers (1-based, inclusive) of test
      video v (frame labels only).

    Args:
        root: see above.
        subset: `"ped1"` or `"ped2"`.
        split: `"train"` or `"test"`.
        cache_dir: decode-once cache folder (see `Video`).

    Returns:
        A `VideoSplit`.

    Raises:
        FileNotFoundError: a folder or the label file is missing.
        ValueError: empty folders; a label file listing a different number of
            videos than there are test folders; an interval past a video's
            last frame; a mask folder with a different frame count.
    """
    subset = str(subset).lower()
    if subset not in ("ped1", "ped2"):
        raise ValueError(f"`subset` must be 'ped1' or 'ped2'. Received: {subset!r}")
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    number = subset[-1]
    folder, layout = _locate(root, number)
    if layout == "original":
        return _read_original(folder, number, split, cache_dir)
    return _read_extracted(folder, number, split, cache_dir)


def _read_original(folder, number, split, cache_dir):
    split_dir = folder / ("Train" if split == "train" else "Test")
    video_dirs = decoding.list_subdirs(
        split_dir, f"UCSD Ped{number} {split} videos", exclude_suffix="_gt"
    )
    intervals = None
    m_file = None
    if split == "test":
        for candidate in (split_dir / f"UCSDped{number}.m", folder / f"UCSDped{number}.m"):
            if candidate.is_file():
                m_file = candidate
                break
        if m_file is None:
            raise FileNotFoundError(
                f"UCSD Ped{number} frame labels not found: expected "
                f"'{split_dir / f'UCSDped{number}.m'}'."
            )
        intervals = parse_ucsd_m_file(m_file)
        _check_video_count(intervals, video_dirs, m_file, split_dir)
    videos = []
    for index, video_dir in enumerate(video_dirs):
        files = decoding.list_files(
            video_dir, (".tif", ".tiff"), f"frames of UCSD video '{video_dir.name}'"
        )
        frames = ImageFilesSource(files, description=f"frames in '{video_dir}'")
        if split == "train":
            videos.append(Video(video_dir.name, frames, cache_dir=cache_dir))
            continue
        source = f"'{m_file}' (line {index + 1}, {video_dir.name})"
        labels = labels_from_intervals(intervals[index], len(files), source)
        masks = None
        gt_dir = video_dir.parent / f"{video_dir.name}_gt"
        if gt_dir.is_dir():
            mask_files = decoding.list_files(
                gt_dir, decoding.IMAGE_EXTENSIONS, f"masks of UCSD video '{video_dir.name}'"
            )
            masks = ImageFilesSource(mask_files, kind="masks", description=f"masks in '{gt_dir}'")
        videos.append(
            Video(
                video_dir.name,
                frames,
                labels=labels,
                masks=masks,
                label_source=source,
                cache_dir=cache_dir,
            )
        )
    return VideoSplit(videos, name=f"ucsd-ped{number}/{split}")


def _read_extracted(folder, number, split, cache_dir):
    frames_dir = folder / ("training" if split == "train" else "testing") / "frames"
    video_dirs = decoding.list_subdirs(frames_dir, f"UCSD ped{number} {split} frame folders")
    intervals = None
    mat = None
    if split == "test":
        mat = decoding.require_file(folder / f"ped{number}.mat", f"UCSD ped{number} frame labels")
        intervals = read_interval_mat(mat, "gt")
        _check_video_count(intervals, video_dirs, mat, frames_dir)
    videos = []
    for index, video_dir in enumerate(video_dirs):
        files = decoding.list_files(
            video_dir, decoding.IMAGE_EXTENSIONS, f"frames of UCSD video '{video_dir.name}'"
        )
        frames = ImageFilesSource(files, description=f"frames in '{video_dir}'")
        if split == "train":
            videos.append(Video(video_dir.name, frames, cache_dir=cache_dir))
            continue
        source = f"'{mat}' (cell {index + 1}, video {video_dir.name})"
        labels = labels_from_intervals(intervals[index], len(files), source)
        videos.append(
            Video(video_dir.name, frames, labels=labels, label_source=source, cache_dir=cache_dir)
        )
    return VideoSplit(videos, name=f"ucsd-ped{number}/{split}")


def _check_video_count(intervals, video_dirs, label_file, split_dir):
    if len(intervals) != len(video_dirs):
        raise ValueError(
            f"'{label_file}' lists {len(intervals)} test videos but '{split_dir}' "
            f"holds {len(video_dirs)} video folders."
        )
