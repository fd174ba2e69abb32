"""Score one clip of a video with a model served by TensorFlow Serving (REST).

Reads the frames that end at `--frame` from a video file, preprocesses them
exactly as `keras_ssmctb.datasets.FrameClipDataset` does for training
(RGB decode, resize with area interpolation when shrinking and bilinear
when enlarging, luma for grayscale, scaling from 0..255 to the model's value
range, frames stacked on channels oldest first), sends them to
`POST /v1/models/<name>:predict` and prints the anomaly score.

It needs numpy and OpenCV only (no Keras, no TensorFlow), so it runs on any
client machine.

    python examples/serving/client.py video.avi --frame 120 --num-frames 5 \\
        --size 64 64 --channels 1 --value-range -1 1 \\
        --server http://localhost:8501 --model-name ssmctb

`--num-frames` is what the exported signature takes: for a future-frame
predictor with T input frames, T + 1 (the frame to score is the last);
`saved_model_cli show --dir EXPORT/1 --all` prints the shape. `--value-range`
is the model's `value_range` (-1 1 for the video models).
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

import cv2
import numpy as np


def _resize(frame, size):
    height, width = size
    if frame.shape[:2] == (height, width):
        return frame
    shrinking = height * width < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (width, height), interpolation=interpolation)
    return resized[..., None] if resized.ndim == 2 else resized


def read_clip(video_path, frame, num_frames, size, channels=1, value_range=(-1.0, 1.0)):
    """Frames `frame - num_frames + 1 .. frame` of a video as one model input.

    Args:
        video_path: a video file OpenCV can decode.
        frame: index (from 0) of the last frame of the clip, the one scored.
        num_frames: frames in the clip (T + 1 for a T-frame predictor).
        size: (height, width) the model takes.
        channels: 1 (grayscale, luma) or 3 (RGB).
        value_range: (low, high) pixels are scaled to: (-1, 1) or (0, 1).

    Returns:
        float32 array (height, width, num_frames * channels).
    """
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
    low, high = (float(v) for v in value_range)
    first = frame - num_frames + 1
    if num_frames < 1 or first < 0:
        raise ValueError(
            f"`frame` must be >= num_frames - 1 = {num_frames - 1} so that the clip "
            f"fits in the video. Received: frame={frame}, num_frames={num_frames}"
        )
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        raise FileNotFoundError(f"Could not open the video file '{video_path}'.")
    frames = []
    index = 0
    try:
        while index <= frame:
            ok, image = capture.read()
            if not ok:
                raise ValueError(
                    f"'{video_path}' has {index} frames; frame {frame} was asked for."
                )
            if index >= first:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                image = _resize(image, size)
                if channels == 1:
                    image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
                frames.append(image)
            index += 1
    finally:
        capture.release()
    clip = np.concatenate(frames, axis=-1).astype(np.float32)
    return clip / 255.0 * (high - low) + low


def build_request(clips, signature_name="serving_default"):
    """The `:predict` request body (row format) for a batch of clips."""
    clips = np.asarray(clips, dtype=np.float32)
    return {"signature_name": signature_name, "instances": clips.tolist()}


def predict(server, model_name, request, version=None, timeout=60):
    """POST a request to TF Serving's REST API and return the decoded response."""
    url = f"{server.rstrip('/')}/v1/models/{model_name}"
    if version is not None:
        url += f"/versions/{version}"
    body = json.dumps(request).encode()
    http_request = urllib.request.Request(
        url + ":predict", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise RuntimeError(f"TF Serving answered {error.code} for {url}:predict: {detail}") from None


def parse_predictions(response):
    """Per-instance dicts of numpy arrays from a row-format `:predict` response."""
    if "error" in response:
        raise RuntimeError(f"TF Serving error: {response['error']}")
    return [{key: np.asarray(value) for key, value in row.items()} for row in response["predictions"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", help="video file")
    parser.add_argument("--frame", type=int, required=True, help="index of the frame to score")
    parser.add_argument("--num-frames", type=int, required=True, help="frames per clip (T + 1)")
    parser.add_argument("--size", type=int, nargs=2, required=True, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--value-range", type=float, nargs=2, default=(-1.0, 1.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--server", default="http://localhost:8501")
    parser.add_argument("--model-name", default="ssmctb")
    parser.add_argument("--version", type=int, help="model version (default: the latest)")
    parser.add_argument("--save-map", help="write the anomaly map to this .npy file")
    parser.add_argument("--print-request", action="store_true", help="print the JSON body and exit")
    args = parser.parse_args(argv)

    clip = read_clip(args.video, args.frame, args.num_frames, args.size, args.channels, args.value_range)
    request = build_request(clip[None])
    if args.print_request:
        json.dump(request, sys.stdout)
        print()
        return 0
    result = parse_predictions(predict(args.server, args.model_name, request, args.version))[0]
    print(f"frame {args.frame}: anomaly_score = {float(result['anomaly_score']):.6f}")
    if args.save_map:
        np.save(args.save_map, result["anomaly_map"])
        print(f"anomaly map {result['anomaly_map'].shape} written to {args.save_map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
