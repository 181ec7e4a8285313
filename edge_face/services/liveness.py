"""Silent liveness use cases (SenseID 3.1 and 1.4): video bytes -> frames -> LivenessAnalyser, plus verification.

It reuses the verification service's detector model, embedder and calibration, so the face compared in 1.4 is
found and scored exactly like in 1.1.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from edge_face import observability
from edge_face.config import Limits
from edge_face.imaging.video import MIN_SECONDS, VideoError, VideoReader
from edge_face.liveness.analyse import LivenessAnalyser, LivenessResult, NoTrackableFace
from edge_face.liveness.antispoof import MiniFASNet
from edge_face.liveness.fusion import Fusion
from edge_face.pipeline.mesh import FaceMesh
from edge_face.runtime.prefetch import Prefetched
from edge_face.services.faces import FaceService

SAMPLE_FPS = 8.0  # blinks last 100-400 ms; a pulse up to 3 Hz stays under the 4 Hz Nyquist limit
TRACK_SIDE = 320  # detection size while tracking: a kiosk subject's face is large; 4 ms instead of 9 ms at 640

log = logging.getLogger("edge_face.liveness")


def short_time_result() -> LivenessResult:
    """The decision on a short video in which no face could be followed: not passed, nothing to show."""
    return LivenessResult(passed=False, score=0.0, status="short_time", cues={}, face_seconds=0.0, frames=0,
                          image_timestamp=0.0, image=np.zeros((0, 0, 3), np.uint8), face_rect=(0, 0, 0, 0),
                          aligned=np.zeros((0, 0, 3), np.uint8))


@dataclass(frozen=True)
class VerificationResult:
    liveness: LivenessResult
    verification_score: float | None  # only when liveness passed


class LivenessService:
    """Built once per set of services (edge_face.services.Services) over its face service, so the models load once."""

    def __init__(self, faces: FaceService, limits: Limits, fusion: dict | None = None, all_cues: bool = False) -> None:
        """`all_cues`: compute every cue, also those the fusion does not use (benchmarks, fitters); the service
        computes only what decides."""
        registry = faces.registry
        self.faces = faces
        self.limits = limits
        # the verification service's finder (candidates, second look, exposure normalisation) at the tracking size,
        # so a masked or backlit person in a video is followed as a photo of them is found
        detector = faces.detector.tracking(TRACK_SIDE)
        fas = MiniFASNet.from_registry(registry)
        self.fusion = Fusion.from_dict(fusion or registry.read_json("liveness/fusion.json"))
        self.analyser = LivenessAnalyser(detector, FaceMesh.from_registry(registry), fas, self.fusion,
                                         **({} if all_cues else {"cues": self.fusion.needed()}))

    def warm_up(self) -> None:
        blank = np.zeros((240, 320, 3), np.uint8)
        self.analyser.detector.detect(blank)
        self.analyser.fas.score(blank, np.array([100, 60, 200, 180], np.float32))

    def detect_video(self, data: bytes, *, fixed_camera: bool = False) -> LivenessResult:
        """§3.1: raises VideoError (2004; 2008 also for a video under 2 s, as the 3.1 manual says) or
        NoTrackableFace (4007). `fixed_camera`: read the video as the kiosk's camera session reads its frames
        (a recording of a camera known not to move: `bench liveness --fixed-camera`); uploads never are."""
        reader, result = self._analyse(data, fixed_camera)
        if reader.duration < MIN_SECONDS:
            raise VideoError("invalid", f"the video lasts {reader.duration:.2f} s, less than {MIN_SECONDS:g} s"
                             if reader.duration > 0 else "no frame of the video could be decoded")
        if isinstance(result, NoTrackableFace):
            raise result
        return result

    def _analyse(self, data: bytes, fixed_camera: bool = False) -> tuple[VideoReader, LivenessResult | NoTrackableFace]:
        """The decision, or why there is none; the reader tells how long the video proved to be. The frames are
        decoded on a thread of their own, a few ahead of the analysis (runtime/prefetch.py)."""
        reader = VideoReader(data, self.limits)
        try:
            result = self.analyser.analyse_frames(Prefetched(reader.frames(SAMPLE_FPS), name="video-decode"),
                                                  fixed_camera=fixed_camera)
        except NoTrackableFace as exc:
            return reader, exc
        observability.liveness_decided_by("video", "live" if result.passed else result.status, result.decided_by)
        log.info("video liveness: passed=%s score=%.3f status=%s decided_by=%s", result.passed, result.score,
                 result.status, result.decided_by)
        return reader, result

    def _video_liveness(self, data: bytes) -> LivenessResult:
        """§1.4's liveness: as 3.1, except that a decodable video under 2 s is a decision, not an error: not
        passed, `short_time` (the 1.4 manual lists that status and no 2008)."""
        reader, result = self._analyse(data)
        if reader.duration <= 0:
            raise VideoError("invalid", "no frame of the video could be decoded")
        if reader.duration < MIN_SECONDS:
            if isinstance(result, NoTrackableFace):
                return short_time_result()
            return replace(result, passed=False, status="short_time")
        if isinstance(result, NoTrackableFace):
            raise result
        return result

    def verify_video(self, video: bytes, photo: np.ndarray, *, auto_rotate: bool = False,
                     check_quality: bool = False) -> VerificationResult:
        """§1.4: liveness of the video, then its selected face against the photo's main face (when live).
        `check_quality` applies the verification service's occlusion gate to the photo, as 1.1 does."""
        reference = self.faces.main_face(photo, "image", auto_rotate=auto_rotate, check_quality=check_quality)
        result = self._video_liveness(video)
        if not result.passed:
            return VerificationResult(result, None)
        return VerificationResult(result, self.faces.score_aligned(result.aligned, reference))

    def image_liveness(self, bgr: np.ndarray) -> float:
        """The single-frame path: MiniFASNet P(real) of a photo's face."""
        return self.analyser.analyse_image(bgr)
