import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from keras_ssmctb import metrics


@pytest.fixture
def videos():
    rng = np.random.default_rng(0)
    labels = [
        np.r_[np.zeros(30), np.ones(20)],
        np.r_[np.ones(10), np.zeros(25)],
        np.r_[np.zeros(15), np.ones(5), np.zeros(10)],
    ]
    scores = [rng.normal(size=len(l)) + 1.2 * l + 0.3 * k for k, l in enumerate(labels)]
    return scores, labels


def test_micro_and_macro_auc_match_scikit_learn(videos):
    scores, labels = videos
    expected_micro = sk_metrics.roc_auc_score(np.concatenate(labels), np.concatenate(scores))
    expected_macro = np.mean([sk_metrics.roc_auc_score(l, s) for s, l in zip(scores, labels)])
    assert metrics.micro_auc(scores, labels) == pytest.approx(expected_micro)
    assert metrics.macro_auc(scores, labels) == pytest.approx(expected_macro)
    # Per-video offsets change the micro AUC but not the macro AUC.
    shifted = [s + 5 * k for k, s in enumerate(scores)]
    assert metrics.macro_auc(shifted, labels) == pytest.approx(expected_macro)
    assert metrics.micro_auc(shifted, labels) != pytest.approx(expected_micro)


def test_macro_auc_skips_single_class_videos_with_a_warning(videos):
    scores, labels = videos
    all_abnormal = np.ones(12)
    with pytest.warns(UserWarning, match=r"skipped 1 of 4 videos.*\[3\]"):
        value = metrics.macro_auc(scores + [np.arange(12.0)], labels + [all_abnormal])
    assert value == pytest.approx(metrics.macro_auc(scores, labels))
    with pytest.raises(ValueError, match="No video has both"):
        metrics.macro_auc([np.arange(3.0)], [np.ones(3)])


def test_frame_auc_bad_inputs(videos):
    scores, labels = videos
    with pytest.raises(ValueError, match="list with one array per video"):
        metrics.micro_auc(np.concatenate(scores), np.concatenate(labels))
    with pytest.raises(ValueError, match=r"Video 1.*\(35,\).*\(34,\)"):
        metrics.micro_auc(scores, [labels[0], labels[1][:-1], labels[2]])
    with pytest.raises(ValueError, match="NaN"):
        metrics.micro_auc([np.array([0.0, np.nan])], [np.array([0, 1])])
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        metrics.micro_auc([np.array([0.0, 1.0])], [np.array([0, 2])])
    with pytest.raises(ValueError, match="only label"):
        metrics.micro_auc([np.array([0.0, 1.0])], [np.array([1, 1])])


def _track_video(frames=10):
    """A 2x2... moving square: one region per frame in frames 2-7, overlapping frame to frame."""
    masks = np.zeros((frames, 16, 16), dtype=np.uint8)
    for t in range(2, 8):
        masks[t, 4:8, 2 + t : 6 + t] = 1
    return masks


def test_rbdc_tbdc_known_cases():
    masks = _track_video()
    perfect = masks.astype(float)
    assert metrics.rbdc_tbdc([perfect], [masks]) == pytest.approx((1.0, 1.0))
    assert metrics.rbdc_tbdc([np.zeros_like(perfect)], [masks]) == pytest.approx((0.0, 0.0))
    # One false positive in every frame, as strong as the true detections:
    # all regions are detected at exactly 1 false positive per frame.
    with_false_positive = perfect.copy()
    with_false_positive[:, 12:15, 12:15] = 1.0
    assert metrics.rbdc_tbdc([with_false_positive], [masks]) == pytest.approx((0.5, 0.5))
    # A weaker false positive is cut by the threshold sweep.
    with_false_positive[:, 12:15, 12:15] = 0.5
    assert metrics.rbdc_tbdc([with_false_positive], [masks]) == pytest.approx((1.0, 1.0))
    # The track detected in 2 of its 6 frames: RBDC 1/3; TBDC 1 with beta 0.1, 0 with beta 0.5.
    partial = np.zeros_like(perfect)
    partial[2:4] = masks[2:4]
    assert metrics.rbdc_tbdc([partial], [masks]) == pytest.approx((1 / 3, 1.0))
    assert metrics.rbdc_tbdc([partial], [masks], beta=0.5) == pytest.approx((1 / 3, 0.0))


def test_rbdc_iou_threshold_and_track_linking():
    masks = np.zeros((6, 16, 16), dtype=np.uint8)
    masks[0:3, 2:6, 2:6] = 1  # track 1: frames 0-2
    masks[3:6, 10:14, 10:14] = 1  # no overlap with frame 2's region: track 2
    # A detection covering a quarter of each region of track 1 only (IoU 0.25).
    detection = np.zeros(masks.shape)
    detection[0:3, 2:4, 2:4] = 1.0
    rbdc, tbdc = metrics.rbdc_tbdc([detection], [masks], alpha=0.2, beta=0.5)
    assert (rbdc, tbdc) == pytest.approx((0.5, 0.5))
    # The same detection is too small at alpha = 0.3 and becomes a false positive.
    assert metrics.rbdc_tbdc([detection], [masks], alpha=0.3) == pytest.approx((0.0, 0.0))
    # Linked by overlap, one track of 6 regions; 3 detected >= beta 0.5.
    masks[3:6] = masks[0:3]
    detection_linked = np.zeros(masks.shape)
    detection_linked[0:3] = masks[0:3]
    assert metrics.rbdc_tbdc([detection_linked], [masks], beta=0.5) == pytest.approx((0.5, 1.0))


def test_rbdc_tbdc_pools_videos_and_checks_inputs():
    masks = _track_video()
    value = metrics.rbdc_tbdc([masks.astype(float), np.zeros((10, 16, 16))], [masks, masks])
    assert value == pytest.approx((0.5, 0.5))
    with pytest.raises(ValueError, match="no abnormal pixel"):
        metrics.rbdc_tbdc([np.zeros((2, 4, 4))], [np.zeros((2, 4, 4), int)])
    with pytest.raises(ValueError, match=r"Video 0.*\(10, 16, 16\).*\(10, 16, 15\)"):
        metrics.rbdc_tbdc([masks.astype(float)], [masks[..., :15]])


def test_image_and_pixel_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(20), np.ones(10)].astype(int)
    scores = rng.normal(size=30) + labels
    assert metrics.image_auroc(scores, labels) == pytest.approx(
        sk_metrics.roc_auc_score(labels, scores)
    )
    assert metrics.image_ap(scores, labels) == pytest.approx(
        sk_metrics.average_precision_score(labels, scores)
    )
    masks = (rng.random((4, 8, 8)) > 0.8).astype(int)
    maps = rng.random((4, 8, 8)) + masks
    assert metrics.pixel_auroc(maps, masks) == pytest.approx(
        sk_metrics.roc_auc_score(masks.ravel(), maps.ravel())
    )
    assert metrics.pixel_ap(list(maps), list(masks)) == pytest.approx(
        sk_metrics.average_precision_score(masks.ravel(), maps.ravel())
    )
    with pytest.raises(ValueError, match=r"Image 2.*\(8, 8\).*\(8, 7\)"):
        metrics.pixel_auroc(list(maps), [masks[0], masks[1], masks[2][:, :7], masks[3]])


def test_aupro_hand_checked_case():
    # One 4-pixel region. Two region pixels score 1; the other two, and one
    # of the 12 normal pixels, score 0.5. Curve points (FPR, PRO):
    # (0, 0), (0, 0.5), (1/12, 1), (1, 1). Area up to 0.3:
    # (0.5 + 1) / 2 * 1/12 + 1 * (0.3 - 1/12) = 0.2791667; / 0.3 = 0.9305556.
    anomaly_map = np.zeros((4, 4))
    mask = np.zeros((4, 4), dtype=int)
    mask[0, :] = 1
    anomaly_map[0, :2] = 1.0
    anomaly_map[0, 2:] = 0.5
    anomaly_map[1, 0] = 0.5
    assert metrics.aupro(anomaly_map[None], mask[None]) == pytest.approx(0.9305556, abs=1e-6)
    # Regions count equally, whatever their size: a perfect map is 1.
    mask[3, 3] = 1
    assert metrics.aupro([mask.astype(float)], [mask]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fpr_limit"):
        metrics.aupro([anomaly_map], [mask], fpr_limit=0.0)
