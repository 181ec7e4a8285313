"""`edge-face synth-attacks --faces DIR --out DIR`: presentation-attack videos made from real faces, in the layout of
liveness-dev (videos + labels.csv), to fit and test the liveness cues on attack families the dev set lacks.

Every attack is a physical object in a 3-D scene, filmed by a camera model:

* the artefact: a printed photo (print gamut, paper margin, gloss; flat, or bent as piecewise homographies over
  vertical strips of a cylinder), a print with the eyes cut out, a paper mask cut to the face oval, or a screen
  (phone / tablet / monitor: black bezel, backlight, the pixel grid that aliases into moire, refresh banding)
  showing the photo or a live video (a replay);
* held by a hand: fingers drawn on the sheet, a smooth random 3-D pose walk plus a 6-10 Hz tremor;
* in front of a real scene: the frames of a real live video (the attacker behind the sheet), with a fixed camera
  (`kiosk`) or filmed by a hand-held phone (`handheld`: the whole view rotates with the phone, an upload, and the
  phone's 0.4-1.2 cm of translation shifts the artefact, near the lens, more than the scene, taken as one plane
  SCENE_Z away: the parallax a real phone gives);
* through a camera model: defocus, rolling shutter, exposure, sensor noise, JPEG then MPEG-4 compression.

`--live-controls N` also passes N real live videos through the same camera model (label live): a cue that learnt
"noise or compression means attack" is caught by them. They are drawn from the landscape recordings only (a square
or portrait clip cut to 4:3 loses the forehead and chin MiniFASNet's context crop reads, which no camera does to a
person standing before it: session 4's controls lost ~5 logits to that cut alone), and the kiosk's from those
whose camera stood still (`still_camera`); each seed starts at another person. A live control's hand-held shake is a
pure rotation, with no parallax (a recorded video has no depth to shift by), so a still person shaken reads as a
plane to the own-motion cue: harsher than a real phone, which also translates. Everything is seeded: the same
arguments give the same videos. Real data is only read; the output folder is wherever --out says (never the
repository).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

W, H = 640, 480
FOCAL = 560.0  # pixels: a ~60 degree webcam
SCENE_Z = 1.5  # metres: the scene behind a held artefact (the attacker and the room), for a phone's parallax
FAMILIES = ("print_flat", "print_bent", "print_cutout", "paper_mask", "screen_phone", "screen_tablet",
            "screen_monitor")
MODES = ("kiosk", "handheld")


# ---------------------------------------------------------------- inputs


def face_photos(folder: Path) -> list[Path]:
    root = folder / "images" if (folder / "images").is_dir() else folder
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def live_videos(folder: Path) -> list[Path]:
    """The live videos of a liveness-dev folder (labels.csv), else every video in it."""
    labels = folder / "labels.csv"
    if labels.exists():
        with open(labels, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["label"] == "live" and r.get("media", "").startswith("video")]
        return [folder / r["path"] for r in rows]
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mp4", ".webm", ".avi", ".mov", ".mkv"))


def landscape(videos: list[Path]) -> list[Path]:
    """The videos whose frames are at least 4:3 wide (16:9 too): those the 4:3 frame keeps whole in height."""
    keep = []
    for p in videos:
        cap = cv2.VideoCapture(str(p))
        w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        cap.release()
        if h > 0 and w * 3 >= h * 4 * 0.99:
            keep.append(p)
    return keep


MAX_PHOTO = 640  # longest side a face photo is printed from (LFW's are 250): larger ones cost minutes a video
STILL = 0.0015  # median motion of the frame's border between samples, over the frame width, of a still camera


def still_camera(video: Path, seconds: float = 3.0, fps: float = 8.0) -> bool:
    """Whether the recording's camera stood still: the median motion of the corners of its frame's sides and top
    (a person covers the middle and the bottom) stays under STILL. liveness-dev: webcams and phones on a stand
    0-0.0009, hand-held phones 0.0019-0.0057."""
    moved = []
    prev = None
    for frame in read_frames(video, fps, seconds, 0.0):
        gray = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        if prev is not None:
            h, w = gray.shape
            mask = np.zeros_like(gray)
            mask[:, : int(0.15 * w)] = mask[:, w - int(0.15 * w):] = mask[: int(0.15 * h)] = 255
            pts = cv2.goodFeaturesToTrack(prev, 200, 0.01, 4, mask=mask)
            if pts is not None and len(pts) >= 6:
                nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None)
                shift = np.linalg.norm((nxt - pts)[st[:, 0] == 1, 0], axis=1)
                if len(shift):
                    moved.append(float(np.median(shift)) / w)
        prev = gray
    return bool(moved) and float(np.median(moved)) < STILL


def read_frames(path: Path, fps: float, seconds: float, start: float) -> list[np.ndarray]:
    """Frames at `fps` from `start` seconds, each centre-cropped to 4:3 and resized to W x H."""
    cap = cv2.VideoCapture(str(path))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out, i, want = [], 0, start
    while len(out) < int(seconds * fps):
        ok, frame = cap.read()
        if not ok:
            break
        t = i / src_fps
        i += 1
        if t + 1e-6 < want:
            continue
        want += 1.0 / fps
        h, w = frame.shape[:2]
        if w * 3 > h * 4:
            cw = h * 4 // 3
            frame = frame[:, (w - cw) // 2:(w - cw) // 2 + cw]
        else:
            ch = w * 3 // 4
            frame = frame[(h - ch) // 2:(h - ch) // 2 + ch]
        out.append(cv2.resize(frame, (W, H), interpolation=cv2.INTER_AREA))
    cap.release()
    while out and len(out) < int(seconds * fps):  # a short clip plays back and forth
        out.extend(out[::-1][: int(seconds * fps) - len(out)])
    return out


# ---------------------------------------------------------------- the artefact (an RGBA canvas in sheet pixels)


@dataclass
class Sheet:
    rgba: np.ndarray  # H x W x 4 float32 0..1 (alpha: where the object is)
    width_m: float  # physical width of the canvas in metres
    kind: str  # "paper" or "screen"
    content: tuple[int, int, int, int]  # where the face content sits on the canvas (x, y, w, h)
    glossy: float


def _skin(photo: np.ndarray) -> np.ndarray:
    h, w = photo.shape[:2]
    return np.median(photo[int(h * 0.45):int(h * 0.6), int(w * 0.4):int(w * 0.6)].reshape(-1, 3), axis=0)


def print_gamut(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink on paper: lifted blacks, paper-white highlights, less saturation, a warm or cool cast, a faint dot."""
    x = img.astype(np.float32) / 255.0
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.65, 0.9)
    x = rng.uniform(0.06, 0.14) + x * rng.uniform(0.78, 0.88)
    x *= np.array([rng.uniform(0.95, 1.0), rng.uniform(0.97, 1.0), rng.uniform(0.97, 1.03)], np.float32)
    x += rng.normal(0, 0.012, x.shape[:2])[..., None]  # paper fibre / halftone grain
    return np.clip(x, 0, 1)


def add_fingers(canvas: np.ndarray, skin: np.ndarray, rng: np.random.Generator, sheet_box: tuple[int, int, int, int],
                side: str) -> None:
    """Two to four fingers over the sheet's edge (drawn in sheet coordinates: they move rigidly with it)."""
    x0, y0, sw, sh = sheet_box
    n = int(rng.integers(2, 5))
    fw = int(sw * rng.uniform(0.07, 0.1))
    colour = np.clip(skin / 255.0 * rng.uniform(0.85, 1.05), 0, 1)
    start = rng.uniform(0.15, 0.6)
    for k in range(n):
        mask = np.zeros(canvas.shape[:2], np.uint8)
        if side == "bottom":
            cx = int(x0 + sw * start + k * fw * 1.05)
            p1, p2 = (cx, y0 + sh + fw * 2), (cx + int(rng.normal(0, 3)), y0 + sh - int(fw * rng.uniform(0.6, 1.4)))
        else:
            cy = int(y0 + sh * start + k * fw * 1.05)
            edge = x0 if side == "left" else x0 + sw
            sgn = 1 if side == "left" else -1
            p1, p2 = (edge - sgn * fw * 2, cy), (edge + sgn * int(fw * rng.uniform(0.6, 1.4)), cy)
        cv2.line(mask, p1, p2, 255, fw, cv2.LINE_AA)
        m = cv2.GaussianBlur(mask, (0, 0), fw * 0.12).astype(np.float32)[..., None] / 255.0
        shade = cv2.GaussianBlur(mask, (0, 0), fw * 0.4).astype(np.float32)[..., None] / 255.0
        rgb = colour * (0.7 + 0.35 * shade)
        canvas[..., :3] = canvas[..., :3] * (1 - m) + rgb * m
        canvas[..., 3:] = np.maximum(canvas[..., 3:], m)


def make_print(photo: np.ndarray, family: str, rng: np.random.Generator, eyes: np.ndarray | None) -> Sheet:
    """A photo printed on paper (with a margin, unless it is a mask cut to the face) and held by fingers."""
    scale = rng.uniform(2.0, 3.2)  # print resolution: LFW's 250 px spread over the sheet
    img = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    ph, pw = img.shape[:2]
    ink = print_gamut(img, rng)
    pad = int(pw * 0.25)  # room for fingers outside the paper
    if family == "paper_mask":
        canvas = np.zeros((ph + 2 * pad, pw + 2 * pad, 4), np.float32)
        canvas[pad:pad + ph, pad:pad + pw, :3] = ink
        oval = np.zeros((ph, pw), np.uint8)
        cv2.ellipse(oval, (pw // 2, int(ph * 0.5)), (int(pw * 0.23), int(ph * 0.3)), 0, 0, 360, 255, -1, cv2.LINE_AA)
        canvas[pad:pad + ph, pad:pad + pw, 3] = oval / 255.0
        content = (pad, pad, pw, ph)
        add_fingers(canvas, _skin(photo), rng, (pad + int(pw * 0.25), pad + int(ph * 0.2), int(pw * 0.5),
                                                int(ph * 0.7)), str(rng.choice(["left", "right"])))
        width_m = rng.uniform(0.14, 0.2) * pw / (pw * 0.54)  # the oval is a head's width
        return Sheet(canvas, width_m * canvas.shape[1] / pw, "paper", content, 0.0)
    margin = int(pw * rng.uniform(0.04, 0.15))
    sh, sw = ph + 2 * margin, pw + 2 * margin
    canvas = np.zeros((sh + 2 * pad, sw + 2 * pad, 4), np.float32)
    paper = np.array([rng.uniform(0.9, 0.97), rng.uniform(0.92, 0.98), rng.uniform(0.92, 0.99)], np.float32)
    canvas[pad:pad + sh, pad:pad + sw, :3] = paper + rng.normal(0, 0.01, (sh, sw, 1)).astype(np.float32)
    canvas[pad:pad + sh, pad:pad + sw, 3] = 1.0
    canvas[pad + margin:pad + margin + ph, pad + margin:pad + margin + pw, :3] = ink
    if family == "print_cutout" and eyes is not None:  # holes where the eyes are: the scene shows through
        holes = np.zeros(canvas.shape[:2], np.uint8)
        for ex, ey in eyes * scale:
            cv2.ellipse(holes, (int(pad + margin + ex), int(pad + margin + ey)),
                        (int(pw * 0.065), int(ph * 0.03)), 0, 0, 360, 255, -1, cv2.LINE_AA)
        canvas[..., 3] *= 1.0 - holes / 255.0
    add_fingers(canvas, _skin(photo), rng, (pad, pad, sw, sh), str(rng.choice(["bottom", "left", "right"])))
    width_m = rng.uniform(0.13, 0.21) * (sw + 2 * pad) / sw  # A6..A4-ish prints
    return Sheet(canvas, width_m, "paper", (pad + margin, pad + margin, pw, ph), rng.uniform(0.0, 0.5))


SCREENS = {"screen_phone": (0.065, 0.006), "screen_tablet": (0.15, 0.012), "screen_monitor": (0.34, 0.015)}


def make_screen(content: np.ndarray, family: str, rng: np.random.Generator) -> Sheet:
    """The bezel around a lit display of `content` (one frame; the caller refreshes the content per frame)."""
    width_m, bezel_m = SCREENS[family]
    ch, cw = content.shape[:2]
    px_per_m = cw / width_m
    bz = int(bezel_m * px_per_m)
    pad = int(cw * 0.2)
    canvas = np.zeros((ch + 2 * (bz + pad), cw + 2 * (bz + pad), 4), np.float32)
    body = np.zeros(canvas.shape[:2], np.uint8)
    r = max(2, bz * 2)
    x0, y0, x1, y1 = pad, pad, canvas.shape[1] - pad - 1, canvas.shape[0] - pad - 1
    cv2.rectangle(body, (x0 + r, y0), (x1 - r, y1), 255, -1)
    cv2.rectangle(body, (x0, y0 + r), (x1, y1 - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(body, (cx, cy), r, 255, -1, cv2.LINE_AA)
    canvas[..., 3] = body / 255.0
    canvas[..., :3] = rng.uniform(0.02, 0.12)
    sheet = Sheet(canvas, width_m * canvas.shape[1] / cw, "screen", (pad + bz, pad + bz, cw, ch), rng.uniform(0.1, 0.4))
    if family != "screen_monitor":
        add_fingers(canvas, np.array([120, 140, 185.0]) * rng.uniform(0.7, 1.2), rng,
                    (pad, pad, canvas.shape[1] - 2 * pad, canvas.shape[0] - 2 * pad),
                    str(rng.choice(["bottom", "left", "right"])))
    return sheet


def screen_light(frame: np.ndarray, t: float, params: dict) -> np.ndarray:
    """A display's picture: backlight (lifted blacks, a blue cast), the sub-pixel grid (it aliases into moire
    once the camera resamples it) and a refresh band rolling down the screen."""
    x = frame.astype(np.float32) / 255.0
    x = params["black"] + x * params["gain"]
    x *= params["cast"]
    h, w = x.shape[:2]
    period = params["pixel"]
    cols = np.arange(w) % period
    stripes = np.stack([(cols * 3 // period) == c for c in (2, 1, 0)], axis=1).astype(np.float32)  # BGR sub-pixels
    rows = 1.0 - params["grid"] * ((np.arange(h) % period) == 0)
    x = x * (1 - params["grid"] + params["grid"] * 2.2 * stripes[None, :, :]) * rows[:, None, None]
    band = np.exp(-(((np.arange(h) / h - (t * params["refresh"]) % 1.0) / 0.08) ** 2))
    x *= (1 - params["banding"] * band)[:, None, None]
    return np.clip(x, 0, 1.2)


# ---------------------------------------------------------------- the scene: 3-D pose, strips, compositing


def smooth_walk(rng: np.random.Generator, n: int, fps: float, amp: float, hz: float, tremor: float) -> np.ndarray:
    """A smooth random walk (sum of a few slow sinusoids of random phase) plus a 6-10 Hz tremor."""
    t = np.arange(n) / fps
    x = np.zeros(n)
    for _ in range(3):
        f = rng.uniform(0.2, 1.0) * hz
        x += rng.normal(0, 1) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    x = amp * x / (np.abs(x).max() + 1e-9)
    f = rng.uniform(6, 10)
    return x + tremor * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) + tremor * 0.5 * rng.normal(0, 1, n)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll),
                              math.sin(roll))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray, rot: np.ndarray, trans: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    p = points @ rot.T + trans
    return np.stack([FOCAL * p[:, 0] / p[:, 2] + centre[0], FOCAL * p[:, 1] / p[:, 2] + centre[1]], axis=1)


def render_sheet(sheet: Sheet, rgba: np.ndarray, rot: np.ndarray, trans: np.ndarray, centre: tuple[float, float],
                 bend: float, strips: int, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The canvas warped into the frame: one homography per vertical strip of a cylinder of curvature `bend`
    (1/m; 0 = flat), each strip shaded by its normal against the light (and a specular glint on gloss)."""
    ch, cw = rgba.shape[:2]
    m_per_px = sheet.width_m / cw
    out_rgb = np.zeros((H, W, 3), np.float32)
    out_a = np.zeros((H, W), np.float32)
    n = strips if bend else 1
    edges = np.linspace(0, cw, n + 1)
    for i in range(n):
        u0, u1 = edges[i], edges[i + 1]
        pts = []
        for u in (u0, u1):
            x = (u - cw / 2) * m_per_px
            if bend:
                ang = x * bend
                pts.append((math.sin(ang) / bend, math.cos(ang) / bend - 1 / bend))
            else:
                pts.append((x, 0.0))
        (xa, za), (xb, zb) = pts
        y0, y1 = (-ch / 2) * m_per_px, (ch / 2) * m_per_px
        quad3 = np.array([[xa, y0, -za], [xb, y0, -zb], [xb, y1, -zb], [xa, y1, -za]])
        dst = project(quad3, rot, trans, centre).astype(np.float32)
        src = np.float32([[u0, 0], [u1, 0], [u1, ch], [u0, ch]])
        c0, c1 = max(0, int(u0) - 2), min(cw, int(math.ceil(u1)) + 2)  # the strip plus 2 columns each side
        hmat = cv2.getPerspectiveTransform(src - np.float32([c0, 0]), dst)  # on the strip's own columns
        normal = rot @ np.array([-(zb - za), 0.0, -(xb - xa)])
        normal /= np.linalg.norm(normal) + 1e-9
        normal *= -1 if normal[2] > 0 else 1  # facing the camera
        diffuse = 0.75 + 0.35 * max(0.0, float(-normal @ light))
        view = -(rot @ np.array([(xa + xb) / 2, 0, -(za + zb) / 2]) + trans)
        view /= np.linalg.norm(view)
        refl = 2 * float(normal @ -light) * normal + light
        spec = sheet.glossy * max(0.0, float(refl @ view)) ** 40
        part = rgba[:, c0:c1].copy()
        own = np.zeros((ch, c1 - c0), np.float32)  # which columns are this strip's: a partition of unity once warped
        own[:, int(round(u0)) - c0:int(round(u1)) - c0] = 1.0
        if sheet.kind == "paper":
            part[..., :3] = part[..., :3] * diffuse + spec
        else:
            part[..., :3] = part[..., :3] + spec
        warped = cv2.warpPerspective(part, hmat, (W, H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
        a = warped[..., 3] * cv2.warpPerspective(own, hmat, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        out_rgb += warped[..., :3] * a[..., None]
        out_a += a
    out_a = np.clip(out_a, 0, 1)
    out_rgb /= np.maximum(out_a, 1e-6)[..., None]
    return out_rgb, out_a


# ---------------------------------------------------------------- the camera model


@dataclass
class CameraModel:
    blur: float
    noise: float
    gain: float
    gamma: float
    readout: float  # rolling shutter: fraction of a frame interval the readout takes
    jpeg: int

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "CameraModel":
        return cls(blur=rng.uniform(0.3, 1.4), noise=rng.uniform(1.0, 4.0), gain=rng.uniform(0.8, 1.2),
                   gamma=rng.uniform(0.85, 1.15), readout=rng.uniform(0.3, 0.9), jpeg=int(rng.integers(55, 90)))

    def rolling_shutter(self, layer: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """Rows read later see the object further along its motion (px per frame)."""
        if np.abs(velocity).max() < 0.2:
            return layer
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        lag = (self.readout * (yy / H - 0.5)).astype(np.float32)
        vx, vy = np.float32(velocity[0]), np.float32(velocity[1])
        return cv2.remap(layer, xx - vx * lag, yy - vy * lag, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)

    def capture(self, scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Linear scene (0..1+) -> an 8-bit compressed frame."""
        x = cv2.GaussianBlur(scene.astype(np.float32), (0, 0), self.blur)
        x8 = np.clip(x * (self.gain * 255.0), 0, 255).astype(np.uint8)
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** self.gamma, 0, 255).astype(np.uint8)
        x = cv2.LUT(x8, lut).astype(np.float32)
        x += rng.standard_normal(x.shape[:2], dtype=np.float32)[..., None] * self.noise
        x += rng.standard_normal(x.shape, dtype=np.float32) * (self.noise * 0.5)
        frame = np.clip(x, 0, 255).astype(np.uint8)
        return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])[1], cv2.IMREAD_COLOR)


# ---------------------------------------------------------------- one video


@dataclass
class Spec:
    family: str
    mode: str
    photo: Path | None
    background: Path
    seed: int
    seconds: float
    fps: float
    replay: Path | None = None  # screens: a live video shown on the screen instead of the photo


def _locate(detector, bgr: np.ndarray):
    faces = detector.detect(bgr) if detector is not None else []
    if not faces:
        return None
    return max(faces, key=lambda f: f.width * f.height)


def _follow(detector, frames: list[np.ndarray], person) -> np.ndarray:
    """Per frame, how far (pixels) the attacker's face has moved from the first frame, smoothed over ~0.3 s (a hand
    follows a head with a lag); zeros when no face is seen."""
    out = np.zeros((len(frames), 2))
    if person is None:
        return out
    c0 = np.array([(person.box[0] + person.box[2]) / 2, (person.box[1] + person.box[3]) / 2])
    last = c0
    for i, f in enumerate(frames):
        face = _locate(detector, f)
        if face is not None:
            c = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
            if np.linalg.norm(c - last) < 0.5 * person.width:  # the same person, not a jump to someone else
                last = c
        out[i] = last - c0
    k = np.ones(5) / 5
    return np.stack([np.convolve(np.pad(out[:, j], 2, mode="edge"), k, mode="valid") for j in range(2)], axis=1)


def render(spec: Spec, detector) -> list[np.ndarray]:
    rng = np.random.default_rng(spec.seed)
    n = int(spec.seconds * spec.fps)
    start = float(rng.uniform(0, 2.0))
    scene_frames = read_frames(spec.background, spec.fps, spec.seconds, start)
    if not scene_frames:
        raise RuntimeError(f"{spec.background}: no frames")
    person = _locate(detector, scene_frames[0])
    follow = _follow(detector, scene_frames, person)
    target = np.array([(person.box[0] + person.box[2]) / 2, (person.box[1] + person.box[3]) / 2]) if person else \
        np.array([W / 2 + rng.normal(0, 40), H * 0.45 + rng.normal(0, 20)])
    cam = CameraModel.draw(rng)

    replay_frames = None
    if spec.family.startswith("screen"):
        if spec.replay is not None:
            replay_frames = read_frames(spec.replay, spec.fps, spec.seconds, float(rng.uniform(0, 1.0)))
            first = replay_frames[0]
        else:
            first = cv2.imread(str(spec.photo))
        res = {"screen_phone": 360, "screen_tablet": 560, "screen_monitor": 720}[spec.family]
        content0 = cv2.resize(first, (res, int(res * first.shape[0] / first.shape[1])), interpolation=cv2.INTER_AREA)
        sheet = make_screen(content0, spec.family, rng)
        params = {"black": rng.uniform(0.04, 0.12), "gain": rng.uniform(0.8, 1.0),
                  "cast": np.array([rng.uniform(1.0, 1.12), 1.0, rng.uniform(0.88, 1.0)], np.float32),
                  "pixel": int(rng.integers(2, 4)), "grid": rng.uniform(0.15, 0.45),
                  "refresh": rng.uniform(0.3, 2.0), "banding": rng.uniform(0.0, 0.15)}
        photo_face = None
    else:
        photo = cv2.imread(str(spec.photo))
        if max(photo.shape[:2]) > MAX_PHOTO:  # a print's canvas (fingers, gloss) is drawn at the photo's size
            k = MAX_PHOTO / max(photo.shape[:2])
            photo = cv2.resize(photo, (round(photo.shape[1] * k), round(photo.shape[0] * k)),
                               interpolation=cv2.INTER_AREA)
        pf = _locate(detector, photo)
        eyes = pf.landmarks[:2] if pf is not None else None
        sheet = make_print(photo, spec.family, rng, eyes)
        photo_face = pf

    # Size: the artefact's face about as wide as a face at a kiosk (120-220 px), somewhat larger than the
    # attacker's own face so it hides it.
    cx, cy, cw, chh = sheet.content
    m_per_px = sheet.width_m / sheet.rgba.shape[1]
    if photo_face is not None:  # the photo's face width, in metres on the artefact
        face_m = photo_face.width * cw / photo.shape[1] * m_per_px
    else:  # a screen: LFW's face fills ~40% of its photo, a replayed video's ~30%
        face_m = cw * m_per_px * (0.3 if replay_frames else 0.4)
    want_px = (rng.uniform(100, 190) if spec.family != "screen_phone" else rng.uniform(80, 150)) * W / 640
    # the artefact hides the attacker's face: a sheet or a screen with its margin, a mask (cut to the face) with
    # its oval alone, so a mask is wider than their face even when that makes it large in the view
    if spec.family == "paper_mask":
        want_px = min(max(want_px, 1.35 * person.width if person is not None else 0), 0.6 * W)
    else:
        want_px = min(max(want_px, 1.1 * person.width if person is not None else 0), 200.0 * W / 640)
    z0 = FOCAL * face_m / want_px
    # where the face content centre is relative to the canvas centre, in metres: aim it at the attacker's face
    off = np.array([(cx + cw / 2 - sheet.rgba.shape[1] / 2) * m_per_px, (cy + chh / 2 - sheet.rgba.shape[0] / 2)
                    * m_per_px])
    base = np.array([(target[0] - W / 2) * z0 / FOCAL - off[0], (target[1] - H / 2) * z0 / FOCAL - off[1], z0])

    held = spec.family != "screen_monitor"
    amp_r = math.radians(rng.uniform(6, 18)) if held else math.radians(1.0)
    tremor = math.radians(rng.uniform(0.2, 0.6)) if held else 0.0
    yaw = smooth_walk(rng, n, spec.fps, amp_r, 0.8, tremor) + math.radians(rng.normal(0, 5))
    pitch = smooth_walk(rng, n, spec.fps, amp_r * 0.7, 0.8, tremor) + math.radians(rng.normal(0, 4))
    roll = smooth_walk(rng, n, spec.fps, amp_r * 0.5, 0.6, tremor * 0.5) + math.radians(rng.normal(0, 3))
    move = 0.05 * z0 if held else 0.005 * z0
    tx = smooth_walk(rng, n, spec.fps, move, 0.6, 0.002 * z0 if held else 0)
    ty = smooth_walk(rng, n, spec.fps, move * 0.6, 0.6, 0.002 * z0 if held else 0)
    tz = smooth_walk(rng, n, spec.fps, move * 1.2, 0.5, 0)
    bend = 0.0
    if spec.family in ("print_bent", "paper_mask"):
        bend = rng.uniform(4.0, 9.0) * rng.choice([1, -1]) if spec.family == "print_bent" else rng.uniform(5, 9)
    light = np.array([rng.normal(0, 0.5), rng.uniform(0.3, 1.0), rng.uniform(0.5, 1.0)])
    light /= np.linalg.norm(light)
    # hand-held phone: the camera itself rotates (the whole view moves); rendered with a margin to crop
    if spec.mode == "handheld":
        cyaw = smooth_walk(rng, n, spec.fps, math.radians(rng.uniform(2, 5)), 0.7, math.radians(0.25))
        cpitch = smooth_walk(rng, n, spec.fps, math.radians(rng.uniform(1.5, 4)), 0.7, math.radians(0.25))
        croll = smooth_walk(rng, n, spec.fps, math.radians(rng.uniform(1, 4)), 0.5, math.radians(0.15))
        # the phone also translates (metres): the artefact, near the lens, shifts more than the scene behind it
        reach = rng.uniform(0.004, 0.012)
        cshift = np.stack([smooth_walk(rng, n, spec.fps, reach, 0.6, 0.0005),
                           smooth_walk(rng, n, spec.fps, reach * 0.7, 0.6, 0.0005)], axis=1)
    kmat = np.array([[FOCAL, 0, W / 2], [0, FOCAL, H / 2], [0, 0, 1]])

    frames, last_centre = [], None
    for i in range(n):
        t = i / spec.fps
        rgba = sheet.rgba
        if sheet.kind == "screen":
            src = replay_frames[i % len(replay_frames)] if replay_frames else content0
            src = cv2.resize(src, (sheet.content[2], sheet.content[3]), interpolation=cv2.INTER_AREA)
            rgba = sheet.rgba.copy()
            x, y, w, h = sheet.content
            rgba[y:y + h, x:x + w, :3] = screen_light(src, t, params)
        rot = rotation(yaw[i], pitch[i], roll[i])
        trans = base + np.array([tx[i], ty[i], tz[i]])
        if held:  # the hand keeps the artefact in front of the attacker's face as their head moves
            trans[:2] += follow[i] * z0 / FOCAL
        if spec.mode == "handheld":  # the camera moved by cshift: the artefact, in camera coordinates, by minus it
            trans[:2] -= cshift[i]
        layer, alpha = render_sheet(sheet, rgba, rot, trans, (W / 2, H / 2), bend, 12, light)
        centre = project(np.zeros((1, 3)), rot, trans, (W / 2, H / 2))[0]
        velocity = np.zeros(2) if last_centre is None else centre - last_centre
        last_centre = centre
        both = cam.rolling_shutter(np.dstack([layer, alpha]), velocity)
        layer, alpha = both[..., :3], both[..., 3:]
        bg = scene_frames[i % len(scene_frames)].astype(np.float32) * np.float32(1 / 255.0)
        if spec.mode == "handheld":  # the scene as one plane SCENE_Z away: its parallax against the artefact
            dx, dy = -FOCAL * cshift[i] / SCENE_Z
            bg = cv2.warpAffine(bg, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H), borderMode=cv2.BORDER_REFLECT)
        scene = bg * (1 - alpha) + layer * alpha
        if spec.mode == "handheld":
            hmat = kmat @ rotation(cyaw[i], cpitch[i], croll[i]) @ np.linalg.inv(kmat)
            zoom = np.array([[1.12, 0, -0.06 * W], [0, 1.12, -0.06 * H], [0, 0, 1]])  # crop the warped border
            scene = cv2.warpPerspective(scene, zoom @ hmat, (W, H), borderMode=cv2.BORDER_REFLECT)
        frames.append(cam.capture(scene, rng))
    return frames


def render_live_control(background: Path, seed: int, seconds: float, fps: float, handheld: bool) -> list[np.ndarray]:
    """A real live video through the same camera model (and, hand-held, the same phone shake): label live."""
    rng = np.random.default_rng(seed)
    frames = read_frames(background, fps, seconds, float(rng.uniform(0, 2.0)))
    cam = CameraModel.draw(rng)
    n = len(frames)
    kmat = np.array([[FOCAL, 0, W / 2], [0, FOCAL, H / 2], [0, 0, 1]])
    if handheld:
        walks = [smooth_walk(rng, n, fps, math.radians(rng.uniform(1, 3)), 0.7, math.radians(0.2)) for _ in range(3)]
    out = []
    for i, f in enumerate(frames):
        scene = f.astype(np.float32) / 255.0
        if handheld:
            hmat = kmat @ rotation(walks[0][i], walks[1][i], walks[2][i]) @ np.linalg.inv(kmat)
            zoom = np.array([[1.08, 0, -0.04 * W], [0, 1.08, -0.04 * H], [0, 0, 1]])
            scene = cv2.warpPerspective(scene, zoom @ hmat, (W, H), borderMode=cv2.BORDER_REFLECT)
        out.append(cam.capture(scene, rng))
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for f in frames:
        writer.write(f)
    writer.release()


def plan(faces: list[Path], lives: list[Path], count: int, seed: int, seconds: float, fps: float,
         families: tuple[str, ...], modes: tuple[str, ...]) -> list[Spec]:
    """`count` specs cycling through the families and modes, each with its own photo, scene and seed; one
    identity per video (the first photo of a person only)."""
    rng = np.random.default_rng(seed)
    people: dict[str, Path] = {}
    for p in faces:
        people.setdefault(p.parent.name, p)
    photos = [people[k] for k in sorted(people)]
    rng.shuffle(photos)
    specs = []
    for i in range(count):
        fam = families[i % len(families)]
        mode = modes[(i // len(families)) % len(modes)]
        replay = None
        if fam.startswith("screen") and i % 2 == 1 and lives:
            replay = lives[int(rng.integers(len(lives)))]
        specs.append(Spec(fam, mode, photos[i % len(photos)], lives[int(rng.integers(len(lives)))],
                          int(rng.integers(2**31)), seconds, fps, replay))
    return specs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="edge-face synth-attacks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", required=True, help="face photos (lfw-dev: images/<Name>/*.jpg)")
    ap.add_argument("--scenes", default="", help="live videos for the scene behind the artefact (a liveness-dev "
                                                "folder; default: the liveness-dev beside --faces)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=84)
    ap.add_argument("--live-controls", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=3.5)
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--frames-png", type=int, default=0, help="also save every Nth frame of each video as PNG")
    ap.add_argument("--size", default=f"{W}x{H}", help="frame size WxH (4:3; the focal length scales with it)")
    args = ap.parse_args(argv)
    set_size(args.size)
    faces_dir, out = Path(args.faces), Path(args.out)
    scenes = Path(args.scenes) if args.scenes else faces_dir.parent / "liveness-dev"
    faces, lives = face_photos(faces_dir), live_videos(scenes)
    if not faces or not lives:
        print(f"error: need face photos in {faces_dir} and live videos in {scenes}", file=sys.stderr)
        return 2
    families = tuple(f for f in args.families.split(",") if f)
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        print(f"error: unknown families {bad}; known: {', '.join(FAMILIES)}", file=sys.stderr)
        return 2
    detector = _detector()
    labels = LabelWriter(out / "labels.csv")
    specs = plan(faces, lives, args.count, args.seed, args.seconds, args.fps, families,
                 tuple(m for m in args.modes.split(",") if m))
    rng = np.random.default_rng(args.seed + 1)
    controls = [(j, int(rng.integers(2**31))) for j in range(args.live_controls)]
    # live controls from landscape recordings (a square or portrait clip cut to 4:3 loses the forehead and chin
    # MiniFASNet's context crop reads), the kiosk's from those whose camera stood still; each seed starts elsewhere
    pools: dict[str, list[Path]] = {}
    if args.live_controls:
        pools["handheld"] = landscape(lives) or lives
        pools["kiosk"] = [p for p in pools["handheld"] if still_camera(p)] or pools["handheld"]
    first = int(rng.integers(len(pools["handheld"]))) if pools else 0
    # controls interleaved with the attacks, so a run stopped part way has both classes
    jobs: list[tuple[str, int]] = []
    for i in range(len(specs)):
        jobs.append(("attack", i))
        while controls and len([k for k in jobs if k[0] == "control"]) < (i + 1) * len(controls) / len(specs):
            jobs.append(("control", len([k for k in jobs if k[0] == "control"])))
    jobs += [("control", j) for j in range(len([k for k in jobs if k[0] == "control"]), args.live_controls)]
    for kind, i in jobs:
        if kind == "attack":
            spec = specs[i]
            rel = f"synth/{spec.family}/{i:04d}_{spec.mode}.mp4"
            frames = render(spec, detector)
            write_video(out / rel, frames, spec.fps)
            if args.frames_png:
                for k in range(0, len(frames), args.frames_png):
                    cv2.imwrite(str(out / f"{rel[:-4]}_{k:03d}.png"), frames[k])
            content = spec.replay if spec.replay is not None else spec.photo
            labels.write({"path": rel, "label": "spoof", "attack_type": spec.family,
                          "media": f"video {args.seconds:g}s {W}x{H}", "source_repo": f"synth-{spec.mode}",
                          "family": spec.family.split("_")[0], "mode": spec.mode,
                          "content": content.relative_to(content.parents[1]).as_posix() if content else "",
                          "scene": spec.background.name, "seed": spec.seed})
            print(f"{i + 1}/{len(specs)} {rel}", file=sys.stderr)
        else:
            handheld = i % 2 == 1
            mode = "handheld" if handheld else "kiosk"
            bg, seed = pools[mode][(first + i // 2) % len(pools[mode])], controls[i][1]
            rel = f"synth/live_control/{i:04d}_{mode}.mp4"
            write_video(out / rel, render_live_control(bg, seed, args.seconds, args.fps, handheld), args.fps)
            labels.write({"path": rel, "label": "live", "attack_type": "", "media": f"video {args.seconds:g}s {W}x{H}",
                          "source_repo": f"synth-{mode}", "family": "live", "mode": mode, "content": "",
                          "scene": bg.name, "seed": seed})
            print(f"control {i + 1}/{args.live_controls} {rel}", file=sys.stderr)
    print(f"{labels.count} videos in {out}", file=sys.stderr)
    return 0


FIELDS = ("path", "label", "attack_type", "media", "source_repo", "family", "mode", "content", "scene", "seed")


class LabelWriter:
    """labels.csv written one row per finished video and flushed at once: a long run on shared cores that stops
    (or is stopped) part way still leaves a usable, consistent set of the videos it finished."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=list(FIELDS))
        self.writer.writeheader()
        self.fh.flush()
        self.count = 0

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.fh.flush()
        self.count += 1


def set_size(size: str) -> None:
    """Render at WxH (e.g. 480x360: cheaper on shared cores); the focal length scales so the field of view stays."""
    global W, H, FOCAL
    w, h = (int(v) for v in size.lower().split("x"))
    FOCAL = FOCAL * w / W
    W, H = w, h


def _detector():
    """edge_face's own face detector, to place the artefact over the attacker's face and find the photo's eyes."""
    from edge_face.config import load_config
    from edge_face.pipeline.detect import YuNetDetector
    from edge_face.services import wire_faces

    faces = wire_faces(load_config(None))
    return YuNetDetector(faces.detector.runner, score_threshold=0.5)


if __name__ == "__main__":
    sys.exit(main())
