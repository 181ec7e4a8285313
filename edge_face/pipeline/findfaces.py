"""Faces as people present them: masked, backlit, dark, small or turned, without letting a dog or a pattern in.

`FaceFinder.detect` wraps YuNet in three steps, every constant of which is variant data (the `detection` block of
models/verification/<variant>.json, read by `DetectionPolicy.from_variant`):

1. Working resolution. A photo is detected at the larger of two scales: the detector's own cap (`max_side`) and
   the scale at which the smallest face of interest (`min_face_px`, 40 px in the photo) still measures the
   detector's smallest reliable face (`detector_min_face_px`). A 4000x3000 camera JPEG is so searched at 2000x1500
   rather than at full size, and boxes and landmarks come back in the photo's own pixels (alignment still warps
   from the full-resolution photo). Only when nothing is found there does it look again at full size. A search
   larger than TILE runs as overlapping tiles (`FaceFinder.search`), so YuNet's memory stays bounded.
2. Exposure. When the frame is dark (median luminance under `dark_median`) or backlit (a bright surround: the share
   of pixels over `bright_level` above `bright_share` while the median is under `backlit_median`), YuNet also runs
   on a normalised copy (a gamma that brings the median to mid-grey, then CLAHE on the luminance), and each face
   keeps whichever of the two detections scored higher.
3. Two thresholds. YuNet's candidates from `candidate_threshold` up are kept; those at `accept_threshold` or more
   are faces, as before. A candidate in between gets a second look: it is warped upright by its own five landmarks
   onto the embedders' 112x112 template placed in a 160x160 frame (centred, at the scale YuNet was trained for),
   exposure-normalised when dark, and YuNet scores it again, as is and mirrored. It is a face when the mean of the
   two scores reaches `second_look_threshold`, which is the accept threshold itself: shown under ideal
   conditions, a candidate must look as much like a face as an ordinary face must. A masked face gains there
   (0.856-0.869 -> 0.87-0.91 on fixture faces) while the dog of groups-dev that YuNet scores 0.858 falls to
   0.73; the mesh's face-presence output cannot make this call (measured: 0.989 on that dog, 0.33-0.86 on
   masked faces), so it is not used. The landmarks must also be in a face's order (eyes above the nose above the
   mouth, the eye distance a plausible share of the box: `eye_box_ratio`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.models.contract import layout_of
from edge_face.pipeline.align import TEMPLATE_112, similarity_transform
from edge_face.pipeline.detect import YuNetDetector
from edge_face.pipeline.select import main_face_index
from edge_face.pipeline.types import Face

TILE = 800  # the largest detector input: a search at a larger side runs as overlapping tiles of this size
TILE_OVERLAP = 160  # px at the search's scale: a face up to this size is whole in some tile
LOOK_SIDE = 160  # the second look's frame: the 112x112 template centred in it, the face ~ 40% of the side
LOOK_PAD = (LOOK_SIDE - 112) / 2


@dataclass(frozen=True)
class DetectionPolicy:
    accept_threshold: float
    candidate_threshold: float
    second_look_threshold: float
    eye_box_ratio: tuple[float, float]
    min_face_px: float
    detector_min_face_px: float
    dark_median: float
    backlit_median: float
    bright_level: float
    bright_share: float
    clahe_clip: float
    clahe_tiles: int
    quick_side: int = 0  # 0: no quick path
    quick_min_face_px: float = 0.0
    closer_side: int = 0
    closer_context: float = 0.0

    @classmethod
    def from_variant(cls, variant: dict) -> "DetectionPolicy":
        accept = float(variant.get("detector_score_threshold", 0.9))
        d = variant.get("detection", {})
        if not d:  # a variant without the block keeps the single threshold and the plain detector's behaviour
            return cls(accept, accept, accept, (0.0, 10.0), 0.0, 0.0, -1.0, -1.0, 256.0, 1.0, 2.0, 8)
        return cls(accept_threshold=accept,
                   candidate_threshold=float(d["candidate_threshold"]),
                   second_look_threshold=float(d.get("second_look_threshold", accept)),
                   eye_box_ratio=tuple(float(v) for v in d["eye_box_ratio"]),
                   min_face_px=float(d["min_face_px"]),
                   detector_min_face_px=float(d["detector_min_face_px"]),
                   dark_median=float(d["exposure"]["dark_median"]),
                   backlit_median=float(d["exposure"]["backlit_median"]),
                   bright_level=float(d["exposure"]["bright_level"]),
                   bright_share=float(d["exposure"]["bright_share"]),
                   clahe_clip=float(d["exposure"]["clahe_clip"]),
                   clahe_tiles=int(d["exposure"]["clahe_tiles"]),
                   **_quick_fields(d.get("quick_main")))


def _quick_fields(q: dict | None) -> dict:
    if not q:
        return {}
    return {"quick_side": int(q["side"]), "quick_min_face_px": float(q["min_face_px"]),
            "closer_side": int(q["closer_side"]), "closer_context": float(q["closer_context"])}


def to_bgr(frame: np.ndarray, layout: str) -> np.ndarray:
    if layout == "bgr":
        return frame
    idx, _ = layout_of(layout)
    return np.ascontiguousarray(frame[..., list(idx)])


def luminance_stats(bgr: np.ndarray) -> np.ndarray:
    """The frame's luminance (uint8) on a copy at most 160 px long: enough for its median and bright share."""
    h, w = bgr.shape[:2]
    s = min(1.0, 160 / max(h, w))
    small = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)


def normalise_exposure(bgr: np.ndarray, clip: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Gamma that brings the median luminance to mid-grey (never darkening), then CLAHE on LAB lightness."""
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
    light = lab[..., 0]
    med = float(np.median(luminance_stats(bgr)))
    if 0 < med < 128:
        gamma = np.log(0.5) / np.log(max(med, 1.0) / 255.0)
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).astype(np.uint8)
        light = cv2.LUT(light, lut)
    lab[..., 0] = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)).apply(light)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Candidate:
    face: Face
    source: np.ndarray | None  # the BGR image it was found in (None: the frame as given, converted on demand)


class FaceFinder:
    """YuNet with a working resolution, exposure normalisation and a second look (see the module docstring).

    The same finder serves photos (FaceService) and video tracking (`tracking(max_side)`), so a masked or
    backlit person is found the same way in both."""

    def __init__(self, detector: YuNetDetector, policy: DetectionPolicy, following: bool = False) -> None:
        """`following`: the finder of a tracker, which wants one face it already knows where to look for: the
        exposure-normalised copy is searched only when the frame as it is shows no accepted face (a dim video
        otherwise pays two detections a frame for the face the first one found)."""
        self.detector = detector
        self.policy = policy
        self.following = following

    def __getattr__(self, name: str):
        """What callers of the plain detector used (runner, max_side, _input, ...)."""
        if name == "detector":
            raise AttributeError(name)
        return getattr(self.detector, name)

    @property
    def score_threshold(self) -> float:
        return self.policy.accept_threshold

    def tracking(self, max_side: int) -> "FaceFinder":
        """The same finder at another detection size (the liveness tracker's 320 px), following one face."""
        d = self.detector
        return FaceFinder(YuNetDetector(d.runner, score_threshold=d.score_threshold, nms_threshold=d.nms_threshold,
                                        max_side=max_side, min_side=d.min_side), self.policy, following=True)

    def working_side(self, height: int, width: int) -> int:
        """The long side the first detection runs at: the detector's cap, or larger when a `min_face_px` face would
        otherwise shrink under `detector_min_face_px`."""
        long = max(height, width)
        p = self.policy
        need = long * min(1.0, p.detector_min_face_px / p.min_face_px) if p.min_face_px > 0 else 0
        return int(min(long, max(self.detector.max_side, np.ceil(need))))

    def exposure_problem(self, bgr: np.ndarray) -> str | None:
        p = self.policy
        gray = luminance_stats(bgr)
        med = float(np.median(gray))
        if med < p.dark_median:
            return "dark"
        if med < p.backlit_median and float((gray >= p.bright_level).mean()) >= p.bright_share:
            return "backlit"
        return None

    def detect_plain(self, frame: np.ndarray, score_threshold: float) -> list[Face]:
        """YuNet alone on the frame as it is, down to `score_threshold`: for a tracker keeping a face it already
        follows (a head tilted far back, a nod's blur), which must not start a track on so little."""
        return self.detector.detect(frame, score_threshold=score_threshold)

    def detect(self, frame: np.ndarray, layout: str = "bgr") -> list[Face]:
        """Faces sorted by score, in the pixel frame of `frame`."""
        h, w = frame.shape[:2]
        side = self.working_side(h, w)
        faces = self._detect_at(frame, layout, side)
        if not faces and side < max(h, w):
            faces = self._detect_at(frame, layout, max(h, w))
        return faces

    def quick_main(self, frame: np.ndarray, layout: str = "bgr") -> Face | None:
        """The photo's main face when it is plain to see, found cheaply; None when it is not (then detect() looks
        harder: working resolution, exposure, second looks).

        A verification photo is mostly one large face: a search at `quick_side` finds it (3 ms instead of 11 at
        640 px), and a closer look at the face alone (`closer_look`) places its landmarks.
        The quick answer stands only when the main face among *all* candidates is a confident one at least
        `quick_min_face_px` wide at that size: a larger unconfirmed candidate (a masked subject, say) sends the
        photo down the full path."""
        p = self.policy
        h, w = frame.shape[:2]
        if p.quick_side <= 0 or max(h, w) <= p.quick_side:
            return None
        side = p.quick_side
        cands = self.detector.detect(frame, score_threshold=p.candidate_threshold, layout=layout, max_side=side)
        if not cands:
            return None
        main = cands[main_face_index(cands, w, h)]
        if main.score < p.accept_threshold or main.width * side / max(h, w) < p.quick_min_face_px:
            return None
        return self.closer_look(frame, main, layout) or main

    def closer_look(self, frame: np.ndarray, face: Face, layout: str = "bgr") -> Face | None:
        """The face detected again in a square around it (`closer_context` times its size) at `closer_side`: the
        face at ~160 px whatever the photo's size, where YuNet's landmarks serve the embedders best (LFW framed at
        640x480: 99.13% against 98.93% from the 640-px search; tools/edge_face_tools/framed_lfw.py)."""
        p = self.policy
        h, w = frame.shape[:2]
        half = p.closer_context * max(face.width, face.height) / 2
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        found = self.detector.detect(frame[y0:y1, x0:x1], score_threshold=p.candidate_threshold, layout=layout,
                                     max_side=p.closer_side)
        offset = np.array([x0, y0], np.float32)
        best, best_iou = None, 0.5  # the same face, not a neighbour in the square
        for f in found:
            moved = Face(box=f.box + np.tile(offset, 2), landmarks=f.landmarks + offset, score=f.score)
            iou = _iou(moved.box, face.box)
            if iou > best_iou:
                best, best_iou = moved, iou
        return best

    def search(self, frame: np.ndarray, threshold: float, layout: str = "bgr", side: int | None = None) -> list[Face]:
        """YuNet's faces over `threshold` with the photo scaled to a long side of `side`, in the photo's pixels.

        Above TILE, the scaled photo is searched as overlapping TILE x TILE tiles, plus one pass at the detector's
        own side for the faces larger than the overlap: the same faces with the detector's input, and its
        memory, bounded (YuNet on a whole 4000x3000 photo holds ~1.4 GB of activations per lane, and kept it
        for the next photo of that size)."""
        h, w = frame.shape[:2]
        side = side or self.detector.max_side
        if side <= TILE or max(h, w) <= TILE:
            return self.detector.detect(frame, score_threshold=threshold, layout=layout, max_side=side)
        k = min(1.0, side / max(h, w))
        sw, sh = max(1, round(w * k)), max(1, round(h * k))
        scaled = frame if k == 1.0 else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        faces = self.detector.detect(frame, score_threshold=threshold, layout=layout)  # the large faces
        step = TILE - TILE_OVERLAP
        xs = [*range(0, max(1, sw - TILE), step), max(0, sw - TILE)]
        ys = [*range(0, max(1, sh - TILE), step), max(0, sh - TILE)]
        for y0 in sorted(set(ys)):
            for x0 in sorted(set(xs)):
                for f in self.detector.detect(scaled[y0:y0 + TILE, x0:x0 + TILE], score_threshold=threshold,
                                              layout=layout, max_side=TILE):
                    x1, y1, x2, y2 = f.box
                    # cut by an inner tile edge: whole in the neighbouring tile (or found by the large-face pass)
                    if (x0 > 0 and x1 < 2) or (y0 > 0 and y1 < 2) or \
                            (x0 + TILE < sw and x2 > TILE - 2) or (y0 + TILE < sh and y2 > TILE - 2):
                        continue
                    shift = np.array([x0, y0], np.float32)
                    faces.append(Face(box=(f.box + np.tile(shift, 2)) / k, landmarks=(f.landmarks + shift) / k,
                                      score=f.score))
        if len(faces) < 2:
            return faces
        xywh = [[float(f.box[0]), float(f.box[1]), float(f.width), float(f.height)] for f in faces]
        keep = np.asarray(cv2.dnn.NMSBoxes(xywh, [f.score for f in faces], threshold,
                                           self.detector.nms_threshold), dtype=int).reshape(-1)
        return sorted((faces[i] for i in keep), key=lambda f: -f.score)

    def _detect_at(self, frame: np.ndarray, layout: str, side: int) -> list[Face]:
        p = self.policy
        cands = [_Candidate(f, None) for f in self.search(frame, p.candidate_threshold, layout, side)]
        bgr = None
        if p.dark_median >= 0:
            bgr = to_bgr(frame, layout)
            found = self.following and any(c.face.score >= p.accept_threshold for c in cands)
            if not found and self.exposure_problem(bgr):
                norm = normalise_exposure(bgr, p.clahe_clip, p.clahe_tiles)
                more = self.search(norm, p.candidate_threshold, side=side)
                cands = self._merge(cands, [_Candidate(f, norm) for f in more])
        accepted = []
        for c in cands:
            if c.face.score >= p.accept_threshold:
                accepted.append(c.face)
            elif self._plausible(c.face):
                if bgr is None:
                    bgr = to_bgr(frame, layout)
                if self.second_look(c.source if c.source is not None else bgr, c.face) >= p.second_look_threshold:
                    accepted.append(c.face)
        return sorted(accepted, key=lambda f: -f.score)

    def _merge(self, a: list[_Candidate], b: list[_Candidate]) -> list[_Candidate]:
        """Union of two detections of the same frame: overlapping faces keep the higher score."""
        out = list(a)
        for c in b:
            same = [i for i, o in enumerate(out) if _iou(o.face.box, c.face.box) > self.detector.nms_threshold]
            if not same:
                out.append(c)
            elif all(c.face.score > out[i].face.score for i in same):
                for i in sorted(same, reverse=True):
                    out.pop(i)
                out.append(c)
        return out

    def _plausible(self, face: Face) -> bool:
        """The five landmarks in a face's order: both eyes above the nose, the nose above the mouth corners (in the
        face's own frame, so roll does not matter), the eye distance a plausible share of the box width."""
        lm = np.asarray(face.landmarks, np.float64)
        u = lm[1] - lm[0]
        d = float(np.linalg.norm(u))
        if d <= 0 or face.width <= 0:
            return False
        u /= d
        v = np.array([-u[1], u[0]])  # down the face
        y = (lm - (lm[0] + lm[1]) / 2) @ v / d
        x = (lm - (lm[0] + lm[1]) / 2) @ u / d
        lo, hi = self.policy.eye_box_ratio
        return bool(lo <= d / face.width <= hi and y[2] > 0 and y[3] > y[2] and y[4] > y[2]
                    and x[3] < x[4] and -0.5 < x[2] < 0.5)

    def second_look(self, bgr: np.ndarray, face: Face) -> float:
        """YuNet's score of the face warped upright onto the template in a 160x160 frame, mean of it and its mirror."""
        m = similarity_transform(face.landmarks, TEMPLATE_112)
        m[:, 2] += LOOK_PAD
        crop = cv2.warpAffine(bgr, m, (LOOK_SIDE, LOOK_SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if self.policy.dark_median >= 0 and self.exposure_problem(crop) == "dark":
            crop = normalise_exposure(crop, self.policy.clahe_clip, self.policy.clahe_tiles)
        scores = []
        for img in (crop, np.ascontiguousarray(crop[:, ::-1])):
            found = self.detector.detect(img, score_threshold=self.policy.candidate_threshold, max_side=LOOK_SIDE)
            centre = np.array([LOOK_SIDE / 2, LOOK_SIDE / 2 + 6])
            near = [f.score for f in found if np.all(f.box[:2] < centre) and np.all(f.box[2:] > centre)]
            scores.append(max(near, default=0.0))
        return float(np.mean(scores))
