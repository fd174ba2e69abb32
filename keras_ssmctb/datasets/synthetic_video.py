"""A synthetic Avenue-like scene: the built-in default video data.

A static camera looks at a building front and a pavement. Pedestrians walk
along three lanes, each lane with its own walking direction, at walking
speed with a swinging gait; each carries a backpack, so the direction they
face is visible in a single frame. Training videos hold only this normal
behaviour. Test videos add anomalies a person would label, the kinds seen
in CUHK Avenue:

- `"running"`: the same walker at three times the walking speed, with a
  faster, longer stride and a forward lean.
- `"wrong_direction"`: a walker going against its lane's direction.
- `"thrown_object"`: a walker throws a ball, which flies on a parabola.
- `"large_object"`: a walker pushes an unusually large box along a lane.

Every abnormal frame's mask covers the abnormal actor (the runner, the
wrong-way walker, the ball, the box); a frame is abnormal exactly when its
mask is non-empty. Everything is drawn with anti-aliased shapes at
sub-pixel positions, so motion is smooth and learnable by a small conv
autoencoder or frame predictor, and everything is seeded: the same
arguments give the same data. The background depends only on `seed`, so the
train and test splits of one seed share the camera view, as in a real data
set.
"""

import numpy as np
from scipy import ndimage

from keras_ssmctb.datasets import decoding
from keras_ssmctb.datasets.video import Video
from keras_ssmctb.datasets.video import VideoSplit

ANOMALY_KINDS = ("running", "wrong_direction", "thrown_object", "large_object")

# Lanes as fractions of the frame height (feet positions), with the walking
# direction of each (+1: left to right).
_LANE_FEET = (0.58, 0.75, 0.92)
_LANE_DIRECTIONS = (1, -1, 1)
_WALK_SPEED = 0.018  # frame widths per frame
_SHIRTS = np.array(
    [
        [200, 60, 50],
        [50, 90, 180],
        [60, 150, 70],
        [220, 200, 60],
        [150, 60, 160],
        [240, 240, 235],
        [40, 40, 45],
    ],
    dtype=np.float32,
)
_PANTS = np.array([[40, 45, 70], [70, 60, 50], [30, 30, 30], [110, 110, 120]], dtype=np.float32)
_SKIN = np.array([[235, 195, 160], [200, 150, 110], [140, 95, 65]], dtype=np.float32)
_BALL_COLOR = np.array([255, 235, 40], dtype=np.float32)
_BOX_COLOR = np.array([175, 95, 35], dtype=np.float32)


def _paint_ellipse(canvas, cx, cy, rx, ry, color, angle=0.0, mask=None):
    """Alpha-blend an anti-aliased (rotated) ellipse; optionally mark it in `mask`."""
    height, width = canvas.shape[:2]
    reach = max(rx, ry) + 1.5
    y0, y1 = max(int(np.floor(cy - reach)), 0), min(int(np.ceil(cy + reach)) + 1, height)
    x0, x1 = max(int(np.floor(cx - reach)), 0), min(int(np.ceil(cx + reach)) + 1, width)
    if y0 >= y1 or x0 >= x1:
        return
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
    if angle:
        cos, sin = np.cos(angle), np.sin(angle)
        dx, dy = dx * cos + dy * sin, -dx * sin + dy * cos
    distance = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
    # (distance - 1) * min radius approximates the signed distance in pixels.
    alpha = np.clip(0.5 - (distance - 1.0) * min(rx, ry), 0.0, 1.0)
    region = canvas[y0:y1, x0:x1]
    region += alpha[..., None] * (color - region)
    if mask is not None:
        mask[y0:y1, x0:x1] |= alpha > 0.5


def _background(height, width, rng):
    """Building front with windows above, tiled pavement below, smooth texture."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    cols = np.arange(width, dtype=np.float32)[None, :]
    image = np.empty((height, width, 3), dtype=np.float32)
    horizon = int(0.42 * height)
    image[:horizon] = np.array([168, 158, 146], np.float32)
    # Window grid on the facade.
    window_w, window_h = max(width / 7, 3.0), max(height / 10, 3.0)
    in_window = (np.mod(cols + 0.3 * window_w, window_w) < 0.55 * window_w) & (
        np.mod(rows + 0.2 * window_h, window_h) < 0.5 * window_h
    )
    in_window &= rows < horizon - 0.12 * height
    image[in_window] = np.array([62, 74, 92], np.float32)
    # A ledge and the base of the building.
    ledge = (rows >= horizon - 0.08 * height) & (rows < horizon)
    image[np.broadcast_to(ledge, (height, width))] = np.array([120, 112, 104], np.float32)
    # Pavement: grey, slightly darker towards the camera, with tile joints.
    ground = np.broadcast_to(rows >= horizon, (height, width))
    shade = 128 - 18 * (rows - horizon) / max(height - horizon, 1)
    pavement = np.repeat(np.broadcast_to(shade, (height, width))[..., None], 3, axis=-1)
    tile = max(width / 9, 3.0)
    joints = (np.mod(cols + 0.5 * (rows // tile) * tile, tile) < 0.9) | (
        np.mod(rows, tile / 1.6) < 0.8
    )
    pavement = pavement - 14 * joints[..., None]
    image[ground] = pavement[ground]
    # A lamp post and a planter for static structure.
    post_x = int(rng.uniform(0.15, 0.85) * width)
    image[int(0.15 * height) : int(0.5 * height), post_x : post_x + max(1, width // 48)] = 55
    planter_x = int(rng.uniform(0.05, 0.8) * width)
    image[
        horizon - int(0.06 * height) : horizon + int(0.03 * height),
        planter_x : planter_x + max(2, width // 8),
    ] = [
        70,
        110,
        60,
    ]
    # Smooth low-frequency texture plus fine grain: a static, textured view.
    smooth = ndimage.gaussian_filter(rng.normal(size=(height, width)), sigma=max(height / 24, 1.0))
    smooth *= 10.0 / (smooth.std() + 1e-6)
    grain = 3.0 * rng.normal(size=(height, width))
    image += (smooth + grain)[..., None]
    return np.clip(image, 0, 255)


class _Actor:
    """A walker (possibly abnormal) crossing the view along a lane."""

    def __init__(self, rng, lane, width, height, start, kind="normal", speed_scale=1.0):
        self.lane = lane
        self.kind = kind
        self.start = start
        self.frame_height = height
        self.feet_y = _LANE_FEET[lane] * height
        self.size = height * (
            0.2 + 0.17 * (_LANE_FEET[lane] - _LANE_FEET[0]) / (_LANE_FEET[-1] - _LANE_FEET[0])
        )
        direction = _LANE_DIRECTIONS[lane]
        if kind == "wrong_direction":
            direction = -direction
        self.direction = direction
        speed = _WALK_SPEED * width * speed_scale * rng.uniform(0.88, 1.12)
        if kind == "running":
            speed *= 3.0
        self.speed = speed
        margin = 0.6 * self.size + (1.5 * self.size if kind == "large_object" else 0.0)
        self.x0 = -margin if direction > 0 else width + margin
        self.end = start + int(np.ceil((width + 2 * margin) / speed))
        self.phase0 = rng.uniform(0, 2 * np.pi)
        self.shirt = _SHIRTS[rng.integers(len(_SHIRTS))]
        self.pants = _PANTS[rng.integers(len(_PANTS))]
        self.skin = _SKIN[rng.integers(len(_SKIN))]
        self.bag = np.array([90, 60, 40], np.float32) * rng.uniform(0.7, 1.2)
        self.throw_at = None
        if kind == "thrown_object":
            # The throw happens when the walker is in the middle third of the view.
            target = rng.uniform(0.3, 0.7) * width
            self.throw_at = start + int(abs(target - self.x0) / speed)

    def x(self, t):
        return self.x0 + self.direction * self.speed * (t - self.start)

    def draw(self, canvas, t, mask):
        size, d = self.size, self.direction
        x, feet = self.x(t), self.feet_y
        running = self.kind == "running"
        actor_mask = mask if self.kind in ("running", "wrong_direction") else None
        # Stride frequency follows the speed (one stride per ~0.55 body heights).
        phase = self.phase0 + (t - self.start) * self.speed / (0.55 * size) * np.pi
        swing = (0.42 if running else 0.3) * np.sin(phase)
        lean = 0.1 * size * d if running else 0.0
        hip_y = feet - 0.45 * size
        leg_len = 0.47 * size
        for sign in (1.0, -1.0):
            angle = sign * swing
            cx = x + 0.5 * leg_len * np.sin(angle)
            cy = hip_y + 0.5 * leg_len * np.cos(angle)
            _paint_ellipse(
                canvas,
                cx,
                cy,
                0.07 * size,
                0.5 * leg_len,
                self.pants,
                angle=-angle,
                mask=actor_mask,
            )
        torso_x = x + 0.5 * lean
        _paint_ellipse(
            canvas,
            torso_x - 0.17 * size * d,
            feet - 0.66 * size,
            0.08 * size,
            0.14 * size,
            self.bag,
            mask=actor_mask,
        )
        _paint_ellipse(
            canvas,
            torso_x,
            feet - 0.66 * size,
            0.13 * size,
            0.23 * size,
            self.shirt,
            mask=actor_mask,
        )
        arm = -swing * 0.8
        _paint_ellipse(
            canvas,
            torso_x + 0.1 * size * np.sin(arm),
            feet - 0.6 * size,
            0.05 * size,
            0.16 * size,
            self.shirt * 0.8,
            angle=-arm,
            mask=actor_mask,
        )
        _paint_ellipse(
            canvas,
            x + lean + 0.02 * size * d,
            feet - 0.91 * size,
            0.1 * size,
            0.11 * size,
            self.skin,
            mask=actor_mask,
        )
        if self.kind == "large_object":
            box_w, box_h = 1.25 * size, 0.85 * size
            box_x = x + d * (0.2 * size + 0.5 * box_w)
            _paint_box(canvas, box_x, feet - 0.5 * box_h, box_w, box_h, _BOX_COLOR, mask)
        if self.throw_at is not None:
            ball = self._ball_position(t)
            if ball is not None:
                radius = max(0.03 * self.frame_height, 1.2)
                _paint_ellipse(canvas, ball[0], ball[1], radius, radius, _BALL_COLOR, mask=mask)

    def _ball_position(self, t):
        """Where the thrown ball is at frame `t`, or `None` (not thrown yet, or landed)."""
        if self.throw_at is None or t < self.throw_at:
            return None
        dt = t - self.throw_at
        height = self.frame_height
        x = self.x(self.throw_at) + self.direction * 0.035 * height * dt
        y = (self.feet_y - 0.75 * self.size) - 0.06 * height * dt + 0.0016 * height * dt**2
        return None if y > self.feet_y + 1 else (x, y)

    def alive(self, t):
        return self.start <= t <= self.end or self._ball_position(t) is not None


def _paint_box(canvas, cx, cy, box_w, box_h, color, mask):
    """An anti-aliased axis-aligned box with a darker band (a large parcel)."""
    height, width = canvas.shape[:2]
    y0, y1 = max(int(np.floor(cy - box_h / 2 - 1)), 0), min(
        int(np.ceil(cy + box_h / 2 + 1)) + 1, height
    )
    x0, x1 = max(int(np.floor(cx - box_w / 2 - 1)), 0), min(
        int(np.ceil(cx + box_w / 2 + 1)) + 1, width
    )
    if y0 >= y1 or x0 >= x1:
        return
    dy = np.abs(np.arange(y0, y1, dtype=np.float32)[:, None] - cy) - box_h / 2
    dx = np.abs(np.arange(x0, x1, dtype=np.float32)[None, :] - cx) - box_w / 2
    alpha = np.clip(0.5 - np.maximum(dx, dy), 0.0, 1.0)
    band = np.abs(np.arange(y0, y1, dtype=np.float32)[:, None] - cy) < 0.12 * box_h
    shade = np.where(band, 0.6, 1.0)[..., None] * color
    region = canvas[y0:y1, x0:x1]
    region += alpha[..., None] * (shade - region)
    mask[y0:y1, x0:x1] |= alpha > 0.5


def _schedule_normal(rng, num_frames, width, height, pre_roll):
    actors = []
    for lane in range(len(_LANE_FEET)):
        t = -pre_roll + int(rng.integers(0, 30))
        while t < num_frames:
            actors.append(_Actor(rng, lane, width, height, t))
            t += int(rng.integers(40, 95))
    return actors


def _render_video(rng, background, num_frames, events):
    """Render frames and masks; `events` is a list of (kind, entry frame, lane)."""
    height, width = background.shape[:2]
    actors = _schedule_normal(rng, num_frames, width, height, pre_roll=140)
    abnormal = [_Actor(rng, lane, width, height, start, kind=kind) for kind, start, lane in events]
    everyone = sorted(actors + abnormal, key=lambda a: a.feet_y)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    masks = np.zeros((num_frames, height, width), dtype=np.uint8)
    noise = rng.normal(0.0, 2.0, size=(num_frames, height, width, 1)).astype(np.float32)
    actor_mask = np.zeros((height, width), dtype=bool)
    visible = np.zeros((len(abnormal), num_frames), dtype=bool)
    for t in range(num_frames):
        canvas = background.copy()
        for actor in everyone:
            if not actor.alive(t):
                continue
            actor_mask[:] = False
            actor.draw(canvas, t, actor_mask)
            if actor.kind != "normal" and actor_mask.any():
                masks[t] |= actor_mask
                visible[abnormal.index(actor), t] = True
        frames[t] = np.clip(canvas + noise[t], 0, 255).astype(np.uint8)
    spans = []
    for (kind, _, _), seen in zip(events, visible):
        seen = np.flatnonzero(seen)
        if seen.size:
            spans.append((kind, int(seen[0]), int(seen[-1])))
    return frames, masks, spans


def _test_events(rng, video_index, num_frames):
    """Two anomalies per test video, kinds cycling so every kind appears."""
    pairs = (
        ("running", "wrong_direction"),
        ("thrown_object", "large_object"),
        ("large_object", "running"),
        ("wrong_direction", "thrown_object"),
    )
    kinds = pairs[video_index % len(pairs)]
    first = int(rng.uniform(0.08, 0.18) * num_frames)
    second = int(rng.uniform(0.5, 0.6) * num_frames)
    lanes = rng.permutation(len(_LANE_FEET))[:2]
    return [(kinds[0], first, int(lanes[0])), (kinds[1], second, int(lanes[1]))]


def make_synthetic_video(
    split="train",
    num_videos=4,
    num_frames=160,
    image_size=(64, 64),
    channels=3,
    seed=0,
):
    """Generate the synthetic Avenue-like scene (the built-in default video data).

    See the module docstring for the scene. Test videos hold two anomalies
    each, whose kinds cycle through `ANOMALY_KINDS` so that with 2 or more
    test videos every kind appears; they have per-frame labels (1 where the
    mask is non-empty) and per-pixel masks. Training videos hold only normal
    behaviour and have no labels.

    The defaults (4 videos × 160 frames of 64×64 RGB per split) generate in
    about a second per split on one CPU core.

    Args:
        split: `"train"` or `"test"`.
        num_videos: number of videos.
        num_frames: frames per video (at least 60, so that an anomaly fits).
        image_size: `(height, width)` or an int; at least 32 pixels a side.
        channels: 3 (RGB) or 1 (luma).
        seed: the seed. The background depends on `seed` only; the actors
            on `seed`, `split` and the video index.

    Returns:
        A `VideoSplit` of in-memory videos named `"00"`, `"01"`, ... Each
        video's `metadata["events"]` lists `(kind, first_frame, last_frame)`
        of its anomalies (empty for training videos).

    Example:

    ```python
    train = make_synthetic_video("train")
    test = make_synthetic_video("test")
    test[0].labels.mean(), test[0].masks.shape  # (..., (160, 64, 64))
    ```
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: {split!r}")
    height, width = decoding.normalize_size(image_size)
    if min(height, width) < 32:
        raise ValueError(
            f"`image_size` must be at least 32 pixels a side. Received: {image_size!r}"
        )
    if int(num_videos) < 1:
        raise ValueError(f"`num_videos` must be >= 1. Received: {num_videos}")
    if int(num_frames) < 60:
        raise ValueError(
            f"`num_frames` must be >= 60 so that an anomaly fits. Received: {num_frames}"
        )
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
    background = _background(height, width, np.random.default_rng([seed, 0]))
    split_id = 1 if split == "train" else 2
    videos = []
    for index in range(int(num_videos)):
        rng = np.random.default_rng([seed, split_id, index])
        events = [] if split == "train" else _test_events(rng, index, int(num_frames))
        frames, masks, spans = _render_video(rng, background, int(num_frames), events)
        if channels == 1:
            frames = np.stack([decoding.convert_channels(f, 1) for f in frames])
        name = f"{index:02d}"
        if split == "train":
            video = Video(name, frames, metadata={"events": []})
        else:
            video = Video(
                name,
                frames,
                labels=masks.reshape(len(masks), -1).any(axis=1),
                masks=masks,
                metadata={"events": spans},
            )
        videos.append(video)
    return VideoSplit(videos, name=f"synthetic/{split}")
