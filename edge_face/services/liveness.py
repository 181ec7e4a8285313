"""Silent liveness use cases (SenseID 3.1 and 1.4): video bytes -> frames -> LivenessAnalyser, plus verification.

It reuses the verification service's detector model, embedder and calibration, so the face compared in 1.4 is
found and scored exactly like in 1.1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_face.config import Limits
from edge_face.imaging.video import MIN_SECONDS, VideoError, VideoReader
from edge_face.liveness.analyse import LivenessAnalyser, LivenessResult, NoTrackableFace
from edge_face.liveness.antispoof import MiniFASNet
from edge_face.liveness.fusion import Fusion
from edge_face.pipeline.mesh import FaceMesh
from edge_face.services.faces import FaceService

SAMPLE_FPS = 8.0  # blinks last 100-400 ms; a pulse up to 3 Hz stays under the 4 Hz Nyquist limit
TRACK_SIDE = 320  # detection size while tracking: a kiosk subject's face is large; 4 ms instead of 9 ms at 640



@dataclass(frozen=True)
class VerificationResult:
    liveness: LivenessResult
    verification_score: float | None  # only when liveness passed


class LivenessService:
    """Built once per set of services (edge_face.services.Services) over its face service, so the models load once."""

    def __init__(self, faces: FaceService, limits: Limits, fusion: dict | None = None) -> None:
        registry = faces.registry
        self.faces = faces
        self.limits = limits
        # the verification service's finder (candidates, second look, exposure normalisation) at the tracking size,
        # so a masked or backlit person in a video is followed as a photo of them is found
        detector = faces.detector.tracking(TRACK_SIDE)
        fas = MiniFASNet([(registry.runner("minifasnet_v2"), 2.7), (registry.runner("minifasnet_v1se"), 4.0)])
        self.fusion = Fusion.from_dict(fusion or registry.read_json("liveness/fusion.json"))
        self.analyser = LivenessAnalyser(detector, FaceMesh(registry.runner("face_mesh")), fas, self.fusion)

    def warm_up(self) -> None:
        blank = np.zeros((240, 320, 3), np.uint8)
        self.analyser.detector.detect(blank)
        self.analyser.fas.score(blank, np.array([100, 60, 200, 180], np.float32))

    def detect_video(self, data: bytes) -> LivenessResult:
        """§3.1: raises VideoError (2004/2008) or NoTrackableFace (4007)."""
        reader = VideoReader(data, self.limits)
        try:
            result = self.analyser.analyse_frames(reader.frames(SAMPLE_FPS))
        except NoTrackableFace:
            self._check_duration(reader)
            raise
        self._check_duration(reader)
        return result

    @staticmethod
    def _check_duration(reader: VideoReader) -> None:
        if reader.duration < MIN_SECONDS:
            raise VideoError("invalid", f"the video lasts {reader.duration:.2f} s, less than {MIN_SECONDS:g} s"
                             if reader.duration > 0 else "no frame of the video could be decoded")

    def verify_video(self, video: bytes, photo: np.ndarray, *, auto_rotate: bool = False,
                     check_quality: bool = False) -> VerificationResult:
        """§1.4: liveness of the video, then its selected face against the photo's main face (when live).
        `check_quality` applies the verification service's occlusion gate to the photo, as 1.1 does."""
        reference = self.faces.main_face(photo, "image", auto_rotate=auto_rotate, check_quality=check_quality)
        result = self.detect_video(video)
        if not result.passed:
            return VerificationResult(result, None)
        return VerificationResult(result, self.faces.score_aligned(result.aligned, reference))

    def image_liveness(self, bgr: np.ndarray) -> float:
        """The single-frame path: MiniFASNet P(real) of a photo's face."""
        return self.analyser.analyse_image(bgr)
