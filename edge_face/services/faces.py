"""Face verification use cases (1.1, 1.2, 2.1, the occlusion gate), framework-free: photos in, results out.

Images arrive decoded (BGR uint8, EXIF orientation applied, see edge_face.imaging); rectangles leave as integer
[left, top, right, bottom] in the pixel frame of the image as given.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from edge_face import native
from edge_face.models import ModelRegistry
from edge_face.native import cosine_matrix
from edge_face.observability import stage
from edge_face.pipeline.align import align, alignment_matrix
from edge_face.pipeline.calibrate import TABLE, Calibration
from edge_face.pipeline.detect import YuNetDetector
from edge_face.pipeline.findfaces import DetectionPolicy, FaceFinder
from edge_face.pipeline.embed import FusedEmbedder, embedder_for
from edge_face.pipeline.mesh import FaceMesh
from edge_face.pipeline.orient import TURNS, box_to_original, rotate
from edge_face.pipeline.quality import FaceQuality, QualityAnalyser
from edge_face.pipeline.select import main_face_index
from edge_face.pipeline.types import Face
from edge_face.runtime import fork_join

Rect = tuple[int, int, int, int]


class NoFaceFound(Exception):
    """No face in one of the photos (SenseID 4000). `which` is "first", "second" or "image"."""

    def __init__(self, which: str) -> None:
        super().__init__(f"no face found in the {which} image")
        self.which = which


class FaceOccluded(Exception):
    """check_quality: the main face of a photo has its eyes, nose or mouth covered (SenseID 4004)."""

    def __init__(self, which: str, regions: list[str]) -> None:
        super().__init__(f"face occlusion in the {which} image: {', '.join(regions)}")
        self.which = which
        self.regions = regions


@dataclass(frozen=True)
class PairResult:
    """1:1 verification of the main face of each photo."""

    score: float  # calibrated: P(score >= t | different people) ~= 10^-(10t-3)
    cosine: float  # raw similarity of the embeddings, for clients that want it
    first_rect: Rect
    second_rect: Rect


@dataclass(frozen=True)
class AllPairsResult:
    """Every face of the first photo against every face of the second (rows = first, columns = second)."""

    scores: list[list[float]]
    first_rects: list[Rect]
    second_rects: list[Rect]


@dataclass(frozen=True)
class LocatedFace:
    """A face ready for embedding: the photo it was found in (turned upright when auto_rotate turned it), the
    matrix that aligns it onto the 112x112 template, and its rectangle in the photo as given. The embedders warp
    it from the photo into their input tensors in one pass (edge_face.native); `crop` is the aligned image."""

    frame: np.ndarray
    matrix: np.ndarray
    rect: Rect
    score: float
    layout: str = "bgr"  # pixel layout of `frame` (edge_face.models.contract.LAYOUTS)

    @cached_property
    def crop(self) -> np.ndarray:
        """The aligned 112x112 BGR uint8 crop."""
        return native.crop(self.frame, self.layout, self.matrix)


class FaceService:
    """detect -> align -> embed -> cosine -> calibrated score, for whole photos."""

    def __init__(self, registry: ModelRegistry, variant: str, calibration: dict | None = None) -> None:
        self.registry = registry
        self.variant = registry.read_json(f"verification/{variant}.json")
        policy = DetectionPolicy.from_variant(self.variant)
        self.detector = FaceFinder(YuNetDetector(registry.runner(self.variant["detector"]),
                                                 score_threshold=policy.accept_threshold), policy)
        self.embedder = FusedEmbedder(
            [(embedder_for(registry.contract(p["model"]), registry.runner(p["model"])), float(p["weight"]))
             for p in self.variant["embedders"]]
        )
        self.calibration = Calibration.from_dict(calibration or self.variant["calibration"])
        self._quality: QualityAnalyser | None = None  # mesh + occlusion model, loaded on first use
        self._quality_lock = threading.Lock()
        self.warmed = False  # /readyz: True once warm_up() has run every model once

    def warm_up(self) -> None:
        """One pass on a blank photo, so the first request does not pay for XNNPACK's set-up; the quality models
        (mesh, occlusion) load here too, so the first check_quality or 2.1 request is not the slow one."""
        blank = np.zeros((256, 256, 3), np.uint8)
        self.detector.detect(blank)
        crop = np.zeros((112, 112, 3), np.uint8)
        self.embedder.embed(crop[None])
        self.quality_analyser.occlusion.visibility(crop)
        self.warmed = True

    def _detect_turned(self, bgr: np.ndarray, auto_rotate: bool,
                       layout: str = "bgr") -> tuple[int, np.ndarray, list[Face]]:
        """The quarter turn of the photo whose best face is the most face-like, with its faces.

        Every turn is tried when `auto_rotate`: YuNet also fires on an upside-down face (0.88 against 0.95 upright
        on obama.jpg) and places its landmarks as if it stood, so only the comparison of the turns tells them apart.
        """
        best: tuple[int, np.ndarray, list[Face]] = (0, bgr, [])
        best_score = -1.0
        for turns in TURNS if auto_rotate else (0,):
            image = rotate(bgr, turns)
            with stage("detect"):
                faces = self.detector.detect(image, layout=layout)
            top = max((f.score for f in faces), default=-1.0)
            if top > best_score:
                best, best_score = (turns, image, faces), top
        return best

    def locate(self, bgr: np.ndarray, *, auto_rotate: bool = False, every_face: bool = False,
               layout: str = "bgr", full_search: bool = False) -> list[LocatedFace]:
        """The main face (or every face, in reading order), with quarter turns tried when `auto_rotate`. The main
        face alone is first looked for the quick way (FaceFinder.quick_main) unless `full_search`.

        `layout`: the photo's pixel layout, BGR (decoded photos) by default; camera frames may come as they are
        (e.g. picamera2's XRGB8888 = "bgrx", any row stride)."""
        height, width = bgr.shape[:2]
        quick = None
        if not (every_face or auto_rotate or full_search):
            with stage("detect"):
                quick = self.detector.quick_main(bgr, layout)
        if quick is not None:
            turns, image, faces = 0, bgr, [quick]
        else:
            turns, image, faces = self._detect_turned(bgr, auto_rotate, layout)
        if not faces:
            return []
        if not every_face:
            ih, iw = image.shape[:2]
            faces = [faces[main_face_index(faces, iw, ih)]]
        else:  # reading order: top to bottom, then left to right, in the photo as given
            faces = sorted(faces, key=lambda f: tuple(box_to_original(f.box, turns, width, height)[[1, 0]]))
        located = []
        for f in faces:
            box = box_to_original(f.box, turns, width, height)
            rect = Face(box=box, landmarks=f.landmarks, score=f.score).rect(width, height)
            with stage("align"):
                matrix = alignment_matrix(f.landmarks)
            located.append(LocatedFace(frame=image, matrix=matrix, rect=rect, score=f.score, layout=layout))
        return located

    @property
    def quality_analyser(self) -> QualityAnalyser:
        """The face mesh and models/quality/quality.json, loaded once on first use (only quality needs them)."""
        if self._quality is None:
            with self._quality_lock:
                if self._quality is None:
                    self._quality = QualityAnalyser.from_dict(FaceMesh.from_registry(self.registry),
                                                              self.registry.read_json("quality/quality.json"))
        return self._quality

    def quality(self, bgr: np.ndarray) -> list[FaceQuality]:
        """§2.1: every face, in reading order (as locate(every_face=True)); NoFaceFound("image") when there is
        none (the 2.1 manual lists 4000 for it: an empty report would read as "no quality problem")."""
        height, width = bgr.shape[:2]
        faces = sorted(self.detector.detect(bgr), key=lambda f: (f.box[1], f.box[0]))
        if not faces:
            raise NoFaceFound("image")
        analyser = self.quality_analyser
        return [analyser.analyse(bgr, f, align(bgr, f.landmarks), f.rect(width, height)) for f in faces]

    def covered_regions(self, face: LocatedFace) -> list[str]:
        """The regions of a located face whose visibility is under the fitted threshold (empty = not occluded)."""
        model = self.quality_analyser.occlusion
        return model.covered(model.visibility(face.crop))

    def check_occlusion(self, bgr: np.ndarray, *, auto_rotate: bool = False) -> list[str]:
        """The covered regions of the photo's main face; NoFaceFound("image") if there is none."""
        return self.covered_regions(self.main_face(bgr, "image", auto_rotate=auto_rotate))

    def embed(self, faces: list[LocatedFace]) -> np.ndarray:
        with stage("embed"):
            return self.embedder.embed_aligned(faces)

    def main_face(self, bgr: np.ndarray, which: str, *, auto_rotate: bool = False,
                  check_quality: bool = False) -> LocatedFace:
        """The photo's main face: NoFaceFound(which) if there is none, FaceOccluded(which) when `check_quality` and
        its eyes, nose or mouth are covered. Every endpoint that compares a photo goes through here."""
        faces = self.locate(bgr, auto_rotate=auto_rotate)
        if not faces:
            raise NoFaceFound(which)
        if check_quality and (covered := self.covered_regions(faces[0])):
            raise FaceOccluded(which, covered)
        return faces[0]

    def score_aligned(self, aligned: np.ndarray, face: LocatedFace) -> float:
        """Calibrated score of a face already aligned to the template (a video's selected face, a liveness
        package's face) against a located face."""
        emb = self.embedder.embed(np.stack([aligned, face.crop]))
        return float(self.calibration.score(cosine_matrix(emb[:1], emb[1:])[0, 0]))

    def verify_pair(self, first: np.ndarray, second: np.ndarray, *, auto_rotate: bool = False,
                    check_quality: bool = False) -> PairResult:
        """`check_quality`: FaceOccluded if either main face has its eyes, nose or mouth covered."""
        def embedded(bgr: np.ndarray, which: str) -> tuple[LocatedFace, np.ndarray]:
            face = self.main_face(bgr, which, auto_rotate=auto_rotate, check_quality=check_quality)
            return face, self.embed([face])

        # The two photos on two lanes at once when there is a free one (edge_face.runtime): one request's latency
        # halves on an idle machine; on a busy one the second photo simply runs after the first, on this lane.
        (a, emb_a), (b, emb_b) = fork_join(lambda: embedded(first, "first"), lambda: embedded(second, "second"))
        cos = float(cosine_matrix(emb_a, emb_b)[0, 0])
        return PairResult(score=float(self.calibration.score(cos)), cosine=cos, first_rect=a.rect,
                          second_rect=b.rect)

    def verify_all_pairs(self, first: np.ndarray, second: np.ndarray, *, auto_rotate: bool = False) -> AllPairsResult:
        def embedded(bgr: np.ndarray, which: str) -> tuple[list[LocatedFace], np.ndarray]:
            faces = self.locate(bgr, auto_rotate=auto_rotate, every_face=True)
            if not faces:
                raise NoFaceFound(which)
            return faces, self.embed(faces)

        (a, emb_a), (b, emb_b) = fork_join(lambda: embedded(first, "first"), lambda: embedded(second, "second"))
        scores = self.calibration.score(cosine_matrix(emb_a, emb_b))
        return AllPairsResult(scores=[[round(float(s), 6) for s in row] for row in scores],
                              first_rects=[f.rect for f in a], second_rects=[f.rect for f in b])

    def describe(self) -> dict:
        """Models, the backend running each, and what the score thresholds mean (for /readyz and clients)."""
        return {
            "variant": self.variant["id"],
            "models": self.registry.describe(),
            "thresholds": {f"{t:.1f}": {"far": far, "cosine": round(self.calibration.cosine_at(t), 4)}
                           for t, far in TABLE.items()},
        }
