"""Synthetic occluders drawn on real faces, placed from the detector's 5 landmarks (for the occlusion fit and bench).

Kinds: a bar over the eyes, sunglasses, a patch over one eye, a bar over the mouth, a surgical mask (insightface's
mask textures when available, else plain fabric colours), a hand-sized skin-coloured blob over the eyes, the nose
and mouth or the mouth, and a patch of unrelated texture over the nose. Each returns the regions it covers
(person's left/right, as in edge_face.pipeline.occlusion). Sizes, colours and positions are jittered from a seeded
generator, so a run is reproducible and the fit and the bench (different seeds) never see the same occluder.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_face_tools import fixture_photos

KINDS = ("bar_eyes", "sunglasses", "eye_patch", "bar_mouth", "mask", "hand", "patch_nose")
MASK_FILES = ("mask_black.jpg", "mask_blue.jpg", "mask_green.jpg", "mask_white.jpg")
FABRIC = ((235, 235, 235), (200, 160, 90), (40, 40, 40), (120, 170, 110), (190, 190, 230))  # BGR


def load_mask_textures(folder: Path | None) -> list[np.ndarray]:
    """insightface's mask textures in `folder` (default: the fixtures' folder); none there: masks are plain fabric."""
    folder = folder or fixture_photos.folder()
    out = [cv2.imread(str(folder / n)) for n in MASK_FILES if (folder / n).is_file()]
    return [t for t in out if t is not None]


class Frame:
    """The face's own frame: origin between the eyes, unit = eye distance, x along the eye line, y down the face."""

    def __init__(self, landmarks: np.ndarray) -> None:
        lm = np.asarray(landmarks, np.float64)
        self.origin = (lm[0] + lm[1]) / 2
        self.u = lm[1] - lm[0]
        self.d = float(np.linalg.norm(self.u)) or 1.0
        self.u /= self.d
        self.v = np.array([-self.u[1], self.u[0]])

    def to_image(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        return self.origin + self.d * (p[:, :1] * self.u + p[:, 1:] * self.v)

    def angle(self) -> float:
        return float(np.degrees(np.arctan2(self.u[1], self.u[0])))


def _ellipse(shape, f: Frame, centre, axes) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    c = f.to_image(centre)[0]
    cv2.ellipse(m, (int(round(c[0])), int(round(c[1]))), (max(1, int(axes[0] * f.d)), max(1, int(axes[1] * f.d))),
                f.angle(), 0, 360, 255, -1, cv2.LINE_AA)
    return m


def _poly(shape, f: Frame, pts) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [np.round(f.to_image(pts)).astype(np.int32)], 255, cv2.LINE_AA)
    return m


def _rect(shape, f: Frame, x1, y1, x2, y2) -> np.ndarray:
    return _poly(shape, f, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)])


def _texture_fill(shape, texture: np.ndarray, f: Frame, x1, y1, x2, y2) -> np.ndarray:
    """`texture` stretched over the face-frame box (x1, y1)-(x2, y2), following the face's rotation."""
    th, tw = texture.shape[:2]
    src = np.float32([[0, 0], [tw, 0], [0, th]])
    dst = np.float32(f.to_image([(x1, y1), (x2, y1), (x1, y2)]))
    m = cv2.getAffineTransform(src, dst)
    return cv2.warpAffine(texture, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _composite(img: np.ndarray, alpha: np.ndarray, layer: np.ndarray, feather: float) -> np.ndarray:
    a = alpha.astype(np.float32) / 255.0
    if feather > 0:
        a = cv2.GaussianBlur(a, (0, 0), feather)
    a = a[..., None]
    return np.clip(img.astype(np.float32) * (1 - a) + layer.astype(np.float32) * a, 0, 255).astype(np.uint8)


def _solid(shape, colour, rng: np.random.Generator, shade: bool = True) -> np.ndarray:
    layer = np.empty(shape, np.float32)
    layer[:] = colour
    if shade:  # a soft lighting gradient and sensor noise, so the occluder is not a flat synthetic colour
        h, w = shape[:2]
        g = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-25, 25) + np.linspace(-1, 1, h)[:, None, None] * rng.uniform(-25, 25)
        layer += g + rng.normal(0, 4, shape)
    return np.clip(layer, 0, 255)


def _skin_colour(img: np.ndarray, f: Frame) -> np.ndarray:
    """Median colour of the cheeks: a hand of the same person's skin tone is the hardest case."""
    pts = f.to_image([(-0.6, 0.75), (0.6, 0.75)])
    h, w = img.shape[:2]
    r = max(2, int(0.12 * f.d))
    samples = []
    for x, y in pts:
        x, y = int(np.clip(x, r, w - r - 1)), int(np.clip(y, r, h - r - 1))
        samples.append(img[y - r:y + r, x - r:x + r].reshape(-1, 3))
    return np.median(np.concatenate(samples), axis=0)


def draw(img: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator,
         masks: list[np.ndarray] | None = None, texture_source: np.ndarray | None = None) -> tuple[np.ndarray, set[str]]:
    """The photo with one occluder of `kind` drawn on the face, and the regions it covers."""
    f = Frame(landmarks)
    j = lambda s=0.08: rng.uniform(-s, s)  # noqa: E731 - jitter in eye distances
    k = lambda: rng.uniform(0.9, 1.15)  # noqa: E731 - size factor
    shape = img.shape
    dark = tuple(float(c) for c in rng.uniform(0, 60, 3))
    any_colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
    colour = dark if rng.random() < 0.6 else any_colour
    if kind == "bar_eyes":
        h = 0.28 * k()
        m = _rect(shape, f, -1.05 * k() + j(), -h + j(0.05), 1.05 * k() + j(), h + j(0.05))
        return _composite(img, m, _solid(shape, colour, rng), 0.8), {"left_eye", "right_eye"}
    if kind == "sunglasses":
        ax = (0.42 * k(), 0.30 * k())
        m = np.maximum(_ellipse(shape, f, (-0.5 + j(0.04), 0.03 + j(0.04)), ax),
                       _ellipse(shape, f, (0.5 + j(0.04), 0.03 + j(0.04)), ax))
        m = np.maximum(m, _rect(shape, f, -0.15, -0.08, 0.15, -0.02))
        return _composite(img, m, _solid(shape, dark, rng), 0.7), {"left_eye", "right_eye"}
    if kind == "eye_patch":
        side = -0.5 if rng.random() < 0.5 else 0.5  # -0.5: the eye on the photo's left = the person's right
        m = _ellipse(shape, f, (side + j(0.05), j(0.05)), (0.40 * k(), 0.32 * k()))
        return _composite(img, m, _solid(shape, colour, rng), 0.7), {"right_eye" if side < 0 else "left_eye"}
    if kind == "bar_mouth":
        m = _rect(shape, f, -0.75 * k() + j(), 1.0 + j(0.05), 0.75 * k() + j(), 1.45 * k() + j(0.05))
        return _composite(img, m, _solid(shape, colour, rng), 0.8), {"mouth"}
    if kind == "mask":
        top = 0.38 + j(0.06)
        pts = [(-1.0, top + 0.25), (-0.3, top), (0.0, top - 0.05), (0.3, top), (1.0, top + 0.25), (0.95, 1.4),
               (0.45, 1.85), (0.0, 1.95), (-0.45, 1.85), (-0.95, 1.4)]
        pts = [(x * k(), y) for x, y in pts]
        m = _poly(shape, f, pts)
        if masks and rng.random() < 0.75:
            layer = _texture_fill(shape, masks[int(rng.integers(len(masks)))], f, -1.0, top - 0.05, 1.0, 1.95)
        else:
            layer = _solid(shape, FABRIC[int(rng.integers(len(FABRIC)))], rng)
        return _composite(img, m, layer, 0.8), {"nose", "mouth"}
    if kind == "hand":
        skin = _skin_colour(img, f) * rng.uniform(0.85, 1.15)
        where = rng.choice(["eyes", "nose_mouth", "mouth"])
        if where == "eyes":
            m, covers = _ellipse(shape, f, (j(), 0.05 + j(0.05)), (1.15 * k(), 0.42 * k())), {"left_eye", "right_eye"}
        elif where == "nose_mouth":
            m, covers = _ellipse(shape, f, (j(), 0.95 + j(0.05)), (0.85 * k(), 0.7 * k())), {"nose", "mouth"}
        else:
            m, covers = _ellipse(shape, f, (j(), 1.2 + j(0.05)), (0.8 * k(), 0.38 * k())), {"mouth"}
        layer = _solid(shape, skin, rng)
        # knuckle/finger creases: a few darker lines across the blob
        lines = np.zeros(shape[:2], np.uint8)
        for t in np.linspace(-0.6, 0.6, 4):
            a, b = f.to_image([(t - 0.1, -2), (t + 0.1, 3)]) if where == "eyes" else f.to_image([(-2, 0.6 + t), (2, 0.7 + t)])
            cv2.line(lines, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, max(1, int(0.02 * f.d)))
        layer = layer - (lines[..., None] > 0) * rng.uniform(10, 30)
        return _composite(img, m, np.clip(layer, 0, 255), 1.0), covers
    if kind == "patch_nose":
        src = texture_source if texture_source is not None else img
        sh, sw = src.shape[:2]
        ph, pw = max(8, sh // 4), max(8, sw // 4)
        y0, x0 = int(rng.integers(0, sh - ph + 1)), int(rng.integers(0, sw - pw + 1))
        tex = np.ascontiguousarray(src[y0:y0 + ph, x0:x0 + pw])
        if rng.random() < 0.5:  # a solid patch as often as a textured one
            m = _rect(shape, f, -0.32 * k() + j(0.04), 0.2 + j(0.05), 0.32 * k() + j(0.04), 0.82 + j(0.04))
            return _composite(img, m, _solid(shape, colour, rng), 0.7), {"nose"}
        m = _rect(shape, f, -0.32 * k() + j(0.04), 0.2 + j(0.05), 0.32 * k() + j(0.04), 0.82 + j(0.04))
        return _composite(img, m, _texture_fill(shape, tex, f, -0.35, 0.15, 0.35, 0.85), 0.7), {"nose"}
    raise ValueError(f"unknown occluder {kind}")
