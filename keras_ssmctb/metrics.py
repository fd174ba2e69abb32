"""The paper's evaluation metrics: numpy arrays in, Python floats out.

Frame level (video): `micro_auc`, `macro_auc`. Region and track level
(video): `rbdc_tbdc`. Image level: `image_auroc`, `image_ap`. Pixel level:
`pixel_auroc`, `pixel_ap`, `aupro`. Definitions follow SPEC §5 and the cited
papers; ROC and AP come from scikit-learn and connected components from
SciPy.

Video metrics take lists with one array per test video (scores and labels
of shape `(T,)`, maps and masks of shape `(T, H, W)`). Frames a model does
not score (the first frames of each video in a prediction model, see
`FrameClipDataset`) must be left out of both lists alike.
"""

import warnings

import numpy as np
from scipy import ndimage
from sklearn import metrics as sk_metrics

# 8-connectivity inside a frame; nothing across frames.
_FRAME_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_FRAME_STRUCTURE[1] = True
# Tracks: 8-connectivity inside a frame plus the same pixel in the previous
# and next frame (regions of consecutive frames that overlap).
_TRACK_STRUCTURE = _FRAME_STRUCTURE.copy()
_TRACK_STRUCTURE[0, 1, 1] = _TRACK_STRUCTURE[2, 1, 1] = True
_IMAGE_STRUCTURE = np.ones((3, 3), dtype=bool)


def _video_list(values, name, ndim):
    if isinstance(values, np.ndarray) or not isinstance(values, (list, tuple)):
        raise ValueError(
            f"`{name}` must be a list with one array per video. Received: {type(values).__name__} "
            "(wrap a single video's array in a list)."
        )
    if not values:
        raise ValueError(f"`{name}` is empty: pass one array per video.")
    arrays = []
    for index, value in enumerate(values):
        array = np.asarray(value)
        if array.ndim != ndim:
            shape = "(T,)" if ndim == 1 else "(T, H, W)"
            raise ValueError(f"`{name}[{index}]` must have shape {shape}. Received: {array.shape}")
        arrays.append(array)
    return arrays


def _check_scores(array, where):
    array = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where} contains NaN or infinite values.")
    return array


def _check_labels(array, where):
    array = np.asarray(array)
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError(
            f"{where} must be 0 (normal) or 1 (abnormal); found {np.unique(array)[:5].tolist()}."
        )
    return array.astype(np.int64)


def _paired_videos(scores, labels, scores_name, labels_name, ndim):
    scores = _video_list(scores, scores_name, ndim)
    labels = _video_list(labels, labels_name, ndim)
    if len(scores) != len(labels):
        raise ValueError(
            f"`{scores_name}` has {len(scores)} videos but `{labels_name}` has {len(labels)}."
        )
    for index, (s, l) in enumerate(zip(scores, labels)):
        if s.shape != l.shape:
            raise ValueError(
                f"Video {index}: `{scores_name}[{index}]` has shape {s.shape} but "
                f"`{labels_name}[{index}]` has shape {l.shape}."
            )
    scores = [_check_scores(s, f"`{scores_name}[{i}]`") for i, s in enumerate(scores)]
    labels = [_check_labels(l, f"`{labels_name}[{i}]`") for i, l in enumerate(labels)]
    return scores, labels


def _two_classes(labels, what):
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(
            f"{what} holds only label {present.tolist()}; "
            "ROC AUC needs normal and abnormal samples."
        )


def micro_auc(scores, labels):
    """Micro-averaged frame-level ROC AUC: all test frames pooled, one ROC curve.

    Args:
        scores: list of `(T_v,)` frame anomaly scores, one per video (higher
            = more abnormal).
        labels: list of `(T_v,)` 0/1 frame labels.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: mismatched lengths, non-finite scores, labels other
            than 0/1, or all frames of one class.

    Example:

    ```python
    scores = [np.array([0.1, 0.9]), np.array([0.2, 0.8])]
    labels = [np.array([0, 1]), np.array([0, 1])]
    micro_auc(scores, labels)  # 1.0
    ```
    """
    scores, labels = _paired_videos(scores, labels, "scores", "labels", 1)
    all_scores, all_labels = np.concatenate(scores), np.concatenate(labels)
    _two_classes(all_labels, "The test set")
    return float(sk_metrics.roc_auc_score(all_labels, all_scores))


def macro_auc(scores, labels):
    """Macro-averaged frame-level ROC AUC: the mean of per-video ROC AUCs.

    A video whose frames are all of one class (e.g. Avenue test videos
    abnormal in every frame) has no ROC AUC. Such videos are skipped from
    the mean with a `UserWarning` naming them; the result is the mean over
    the remaining videos. This is the usual practice and keeps every
    defined per-video AUC in the average.

    Args:
        scores: list of `(T_v,)` frame anomaly scores, one per video.
        labels: list of `(T_v,)` 0/1 frame labels.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: mismatched inputs, or no video with both classes.
    """
    scores, labels = _paired_videos(scores, labels, "scores", "labels", 1)
    aucs, skipped = [], []
    for index, (s, l) in enumerate(zip(scores, labels)):
        if len(np.unique(l)) < 2:
            skipped.append(index)
            continue
        aucs.append(sk_metrics.roc_auc_score(l, s))
    if not aucs:
        raise ValueError("No video has both normal and abnormal frames; macro AUC is undefined.")
    if skipped:
        warnings.warn(
            f"macro_auc: skipped {len(skipped)} of {len(scores)} videos whose frames are all "
            f"of one class (video indices {skipped}); averaged over the other {len(aucs)}.",
            UserWarning,
            stacklevel=2,
        )
    return float(np.mean(aucs))


def _ground_truth_regions(mask):
    """Regions (per-frame components) and tracks of one video's `(T, H, W)` mask.

    Returns:
        `(regions, num_regions, region_area, region_track, num_tracks)`:
        `regions` labels every region with a video-unique id 1..n;
        `region_track[r]` is region r's track id (0-based; index 0 unused).
    """
    regions, num_regions = ndimage.label(mask, structure=_FRAME_STRUCTURE)
    tracks, num_tracks = ndimage.label(mask, structure=_TRACK_STRUCTURE)
    region_area = np.bincount(regions.ravel(), minlength=num_regions + 1)
    region_track = np.zeros(num_regions + 1, dtype=np.int64)
    region_track[regions[regions > 0]] = tracks[regions > 0] - 1
    return regions, num_regions, region_area, region_track, num_tracks


def _detection_thresholds(maps, num_thresholds):
    """Thresholds for the RBDC/TBDC sweep, highest first.

    Half are quantiles of the per-frame maxima (the score at which each
    frame gets its first detection, which sets the resolution of the
    false-positives-per-frame axis in [0, 1]); half are quantiles of all
    pixel scores at levels 1 - 10^-4 … 1 - 10^0 spaced logarithmically
    (finer near the top, where detections are few).
    """
    frame_max = np.concatenate([m.reshape(len(m), -1).max(axis=1) for m in maps])
    pixels = np.concatenate([m.ravel() for m in maps])
    half = max(num_thresholds // 2, 1)
    levels = 1.0 - np.logspace(-4, 0, half)
    candidates = np.concatenate(
        [
            np.quantile(frame_max, np.linspace(0.0, 1.0, half)),
            np.quantile(pixels, np.clip(levels, 0.0, 1.0)),
        ]
    )
    return np.unique(candidates)[::-1]


def _area_up_to_one(false_positive_rate, detection_rate):
    """Area under detection rate vs. false positives per frame over [0, 1].

    The curve starts at (0, 0) (a threshold above every score). Points with
    more than one false positive per frame are dropped; the rest are sorted
    by false-positive rate, the detection rate is made non-decreasing (the
    best rate reachable within that false-positive budget) and each
    false-positive rate keeps only its best detection rate. Consecutive
    points are joined by straight lines, the curve is extended flat to 1
    false positive per frame, and the area is computed with the trapezoidal
    rule. The result lies in [0, 1]; e.g. detecting every region at exactly
    one false positive per frame, and nothing at fewer, gives 0.5.
    """
    fpr = np.concatenate([[0.0], false_positive_rate])
    rate = np.concatenate([[0.0], detection_rate])
    keep = fpr <= 1.0
    fpr, rate = fpr[keep], rate[keep]
    order = np.lexsort((rate, fpr))
    fpr, rate = fpr[order], np.maximum.accumulate(rate[order])
    # One point per false-positive rate: the best detection rate reached there.
    last = np.append(fpr[1:] != fpr[:-1], True)
    fpr, rate = fpr[last], rate[last]
    if fpr[-1] < 1.0:
        fpr, rate = np.append(fpr, 1.0), np.append(rate, rate[-1])
    return float(sk_metrics.auc(fpr, rate))


def rbdc_tbdc(anomaly_maps, gt_masks, alpha=0.1, beta=0.1, num_thresholds=100):
    """Region- and track-based detection criteria, RBDC and TBDC.

    Ramachandra & Jones (WACV 2020). For each threshold of a sweep:

    - Detected regions: the 8-connected components of `map >= threshold`
      in each frame.
    - Ground-truth regions: the 8-connected components of each frame's mask.
      A region is detected when its IoU with some detected region of the
      same frame is >= `alpha`.
    - A detected region whose IoU with every ground-truth region of its
      frame is < `alpha` is a false positive.
    - Ground-truth tracks: regions linked across consecutive frames when
      they overlap (share at least one pixel); a track is a connected chain
      of such links. A track is detected when at least a fraction `beta` of
      its regions are detected.
    - Region detection rate = detected regions / all regions; track
      detection rate = detected tracks / all tracks; false positives per
      frame = false positives / all frames of all videos.

    RBDC (TBDC) is the area under region (track) detection rate vs. false
    positives per frame for false positives per frame in [0, 1], divided by
    1, so it lies in [0, 1]; see `_area_up_to_one` for how the curve is
    closed. Thresholds: `num_thresholds` values from quantiles of the
    per-frame maxima and of all scores (not every unique value, which would
    be slow); a few hundred 64×64 frames evaluate in about a second.

    Args:
        anomaly_maps: list of `(T_v, H, W)` per-pixel anomaly scores, one
            per video, comparable across videos (higher = more abnormal).
        gt_masks: list of `(T_v, H, W)` 0/1 masks.
        alpha: IoU needed to detect a region (0.1 in the paper).
        beta: fraction of a track's regions that must be detected (0.1).
        num_thresholds: size of the threshold sweep.

    Returns:
        `(rbdc, tbdc)`, two floats in [0, 1].

    Raises:
        ValueError: mismatched shapes, non-finite maps, masks other than
            0/1, or masks without any abnormal pixel.

    Reference:
        B. Ramachandra and M. Jones, "Street Scene: A new dataset and
        evaluation protocol for video anomaly detection", WACV 2020.
    """
    maps, masks = _paired_videos(anomaly_maps, gt_masks, "anomaly_maps", "gt_masks", 3)
    if not 0.0 < alpha <= 1.0 or not 0.0 < beta <= 1.0:
        raise ValueError(
            f"`alpha` and `beta` must be in (0, 1]. Received: alpha={alpha}, beta={beta}"
        )
    if int(num_thresholds) < 2:
        raise ValueError(f"`num_thresholds` must be >= 2. Received: {num_thresholds}")
    truth, region_offsets, track_of_region = [], [], []
    total_regions = total_tracks = 0
    for mask in masks:
        regions, num_regions, area, region_track, num_tracks = _ground_truth_regions(mask)
        truth.append((regions, area))
        region_offsets.append(total_regions)
        track_of_region.append(region_track[1:] + total_tracks)
        total_regions += num_regions
        total_tracks += num_tracks
    if total_regions == 0:
        raise ValueError("`gt_masks` mark no abnormal pixel; RBDC and TBDC are undefined.")
    track_of_region = np.concatenate(track_of_region)
    track_size = np.bincount(track_of_region, minlength=total_tracks)
    total_frames = sum(len(m) for m in maps)

    false_positive_rate, region_rate, track_rate = [], [], []
    for threshold in _detection_thresholds(maps, int(num_thresholds)):
        detected = np.zeros(total_regions, dtype=bool)
        false_positives = 0
        for score_map, (regions, region_area), offset in zip(maps, truth, region_offsets):
            found, num_found = ndimage.label(score_map >= threshold, structure=_FRAME_STRUCTURE)
            if num_found == 0:
                continue
            found_area = np.bincount(found.ravel(), minlength=num_found + 1)
            both = (regions > 0) & (found > 0)
            pairs, intersection = np.unique(
                regions[both].astype(np.int64) * (num_found + 1) + found[both], return_counts=True
            )
            gt_id, found_id = pairs // (num_found + 1), pairs % (num_found + 1)
            iou = intersection / (region_area[gt_id] + found_area[found_id] - intersection)
            hit = iou >= alpha
            detected[offset + gt_id[hit] - 1] = True
            matched = np.zeros(num_found + 1, dtype=bool)
            matched[found_id[hit]] = True
            false_positives += num_found - int(matched[1:].sum())
        detected_per_track = np.bincount(track_of_region[detected], minlength=total_tracks)
        false_positive_rate.append(false_positives / total_frames)
        region_rate.append(detected.mean())
        track_rate.append(np.mean(detected_per_track >= beta * track_size))
    fpr = np.asarray(false_positive_rate)
    return (
        _area_up_to_one(fpr, np.asarray(region_rate)),
        _area_up_to_one(fpr, np.asarray(track_rate)),
    )


def _image_scores(scores, labels):
    scores = _check_scores(np.asarray(scores), "`scores`")
    labels = _check_labels(np.asarray(labels), "`labels`")
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(
            "`scores` and `labels` must be 1-D of the same length. "
            f"Received: {scores.shape} and {labels.shape}"
        )
    _two_classes(labels, "`labels`")
    return scores, labels


def image_auroc(scores, labels):
    """Image-level ROC AUC from per-image anomaly scores and 0/1 labels."""
    scores, labels = _image_scores(scores, labels)
    return float(sk_metrics.roc_auc_score(labels, scores))


def image_ap(scores, labels):
    """Image-level average precision (abnormal = positive class)."""
    scores, labels = _image_scores(scores, labels)
    return float(sk_metrics.average_precision_score(labels, scores))


def _pixel_pairs(maps, masks):
    """Per-image `(H, W)` maps and masks from arrays or lists, shapes checked."""

    def as_images(values, name):
        if isinstance(values, np.ndarray):
            values = [values] if values.ndim == 2 else list(values) if values.ndim == 3 else None
            if values is None:
                raise ValueError(
                    f"`{name}` must be (N, H, W) or a list of (H, W) / (N, H, W) arrays."
                )
        images = []
        for index, value in enumerate(values):
            value = np.asarray(value)
            if value.ndim == 3:
                images.extend(value)
            elif value.ndim == 2:
                images.append(value)
            else:
                raise ValueError(
                    f"`{name}[{index}]` has shape {value.shape}; expected (H, W) or (N, H, W)."
                )
        if not images:
            raise ValueError(f"`{name}` is empty.")
        return images

    maps, masks = as_images(maps, "maps"), as_images(masks, "masks")
    if len(maps) != len(masks):
        raise ValueError(f"`maps` holds {len(maps)} images but `masks` holds {len(masks)}.")
    for index, (m, g) in enumerate(zip(maps, masks)):
        if m.shape != g.shape:
            raise ValueError(
                f"Image {index}: map shape {m.shape} differs from mask shape {g.shape}."
            )
    maps = [_check_scores(m, f"`maps` image {i}") for i, m in enumerate(maps)]
    masks = [_check_labels(g, f"`masks` image {i}") for i, g in enumerate(masks)]
    return maps, masks


def pixel_auroc(maps, masks):
    """Pixel-level ROC AUC over all pixels of all images.

    Args:
        maps: `(N, H, W)` anomaly maps, or a list of `(H, W)` or `(N_i, H, W)`
            arrays (sizes may differ between list entries).
        masks: 0/1 masks of the same shapes.
    """
    maps, masks = _pixel_pairs(maps, masks)
    labels = np.concatenate([g.ravel() for g in masks])
    _two_classes(labels, "`masks`")
    return float(sk_metrics.roc_auc_score(labels, np.concatenate([m.ravel() for m in maps])))


def pixel_ap(maps, masks):
    """Pixel-level average precision over all pixels (inputs as `pixel_auroc`)."""
    maps, masks = _pixel_pairs(maps, masks)
    labels = np.concatenate([g.ravel() for g in masks])
    _two_classes(labels, "`masks`")
    return float(
        sk_metrics.average_precision_score(labels, np.concatenate([m.ravel() for m in maps]))
    )


def aupro(maps, masks, fpr_limit=0.3):
    """Area under the per-region-overlap curve up to `fpr_limit`, normalised.

    The MVTec AD definition (Bergmann et al., IJCV 2021). Ground-truth
    regions are the 8-connected components of each image's mask. For a
    threshold, a region's overlap is the fraction of its pixels with score
    >= threshold; PRO is the mean overlap over all regions of all images;
    the false positive rate is the fraction of normal pixels (of all images)
    with score >= threshold. The threshold sweeps every distinct score (an
    exact curve, starting at (0, 0)); the PRO-vs-FPR curve is integrated
    with the trapezoidal rule from 0 to `fpr_limit` (interpolating linearly
    at `fpr_limit`) and divided by `fpr_limit`, so 1.0 is perfect.

    Args:
        maps: `(N, H, W)` anomaly maps, or a list of `(H, W)` / `(N_i, H, W)`.
        masks: 0/1 masks of the same shapes.
        fpr_limit: the integration limit in (0, 1] (0.3 in the literature).

    Returns:
        float in [0, 1].

    Reference:
        P. Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 2021.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"`fpr_limit` must be in (0, 1]. Received: {fpr_limit}")
    maps, masks = _pixel_pairs(maps, masks)
    scores, fpr_weight, pro_weight = [], [], []
    region_areas = []
    for score_map, mask in zip(maps, masks):
        regions, num_regions = ndimage.label(mask, structure=_IMAGE_STRUCTURE)
        area = np.bincount(regions.ravel(), minlength=num_regions + 1).astype(np.float64)
        region_areas.append(area[1:])
        scores.append(score_map.ravel())
        fpr_weight.append((regions.ravel() == 0).astype(np.float64))
        # Each anomalous pixel carries 1 / its region's area; summed per region
        # that is the region's overlap, divided by the region count below.
        with np.errstate(divide="ignore"):
            pro_weight.append(np.where(regions.ravel() > 0, 1.0 / area[regions.ravel()], 0.0))
    num_regions = sum(len(a) for a in region_areas)
    fpr_weight = np.concatenate(fpr_weight)
    num_normal = fpr_weight.sum()
    if num_regions == 0 or num_normal == 0:
        raise ValueError("AUPRO needs masks with both abnormal regions and normal pixels.")
    scores = np.concatenate(scores)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    fpr = np.cumsum(fpr_weight[order]) / num_normal
    pro = np.cumsum(np.concatenate(pro_weight)[order]) / num_regions
    # One point per distinct score: the last pixel of each run of equal scores.
    last = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))
    fpr = np.concatenate([[0.0], fpr[last]])
    pro = np.concatenate([[0.0], pro[last]])
    inside = fpr <= fpr_limit
    curve_fpr, curve_pro = fpr[inside], pro[inside]
    if curve_fpr[-1] < fpr_limit and inside.sum() < len(fpr):
        following = np.flatnonzero(~inside)[0]
        x0, x1, y0, y1 = fpr[following - 1], fpr[following], pro[following - 1], pro[following]
        curve_fpr = np.append(curve_fpr, fpr_limit)
        curve_pro = np.append(curve_pro, y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0))
    return float(sk_metrics.auc(curve_fpr, curve_pro) / fpr_limit)
