"""Frames from any source (a decoded upload, a camera) -> one liveness decision with its selected frame.

`LivenessAnalyser.analyse_frames(frames)` consumes an iterable of (timestamp_s, bgr) once, keeping per frame only
what the cues need (a few numbers and the mesh) and a copy of the best frame so far, so a 30-s video costs little
memory. The camera session can feed it the same way.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_face.liveness import (antispoof, blink, challenge, coupling, frame, moire, motion, nonrigid, ownmotion,
                                planarity, pulse, rigidity, view)
from edge_face.liveness.antispoof import MiniFASNet
from edge_face.liveness.fusion import Fusion
from edge_face.liveness.track import FaceTracker, shrink
from edge_face.liveness.types import Sample
from edge_face.pipeline.align import align
from edge_face.pipeline.findfaces import FaceFinder
from edge_face.pipeline.types import Face

if TYPE_CHECKING:
    from edge_face.pipeline.mesh import FaceMesh

MIN_FACE_SECONDS = 2.0  # API.md: short_time when the face is visible for less
MOIRE_EVERY = 3  # the spectrum is measured on every third sample
# frames the flow thread may lag behind the tracking, each one a decoded frame held in memory (6 MB at 1080p):
# 3 rather than 2 absorbs more of the two threads' uneven frames (liveness-dev, in-process ABBA: 58.4 -> 57.1 ms
# per video-second; 4: 56.9)
FLOW_AHEAD = 3
ANTISPOOF_EVERY = 2  # MiniFASNet on every second sample (4 per second at 8 fps, as measured upstream: 5)


class NoTrackableFace(Exception):
    """No face could be followed in the frames (SenseID 4007)."""


@dataclass
class LivenessResult:
    passed: bool
    score: float
    status: str  # "ok", "hack" or "short_time"
    cues: dict[str, float | None]
    face_seconds: float
    frames: int  # frames analysed
    image_timestamp: float
    image: np.ndarray  # the selected frame, BGR
    face_rect: tuple[int, int, int, int]  # [left, top, right, bottom] in that frame
    aligned: np.ndarray  # 112x112 aligned crop of its face, for verification
    timings: dict[str, float] = field(default_factory=dict)
    decided_by: str = ""  # the cue that pushed the verdict most its way ("short_time" when too short)

    @property
    def face_image(self) -> np.ndarray:
        l, t, r, b = self.face_rect
        return self.image[t:b, l:r]


def _flow_and_frame(flow: coupling.FlowMeter, bgr: np.ndarray, face: Face, with_frame: bool,
                    rigid: rigidity.RigidityMeter | None = None
                    ) -> tuple[coupling.FlowPair | None, int | None, tuple[float, float, float] | None]:
    """The motion pair ending at this frame and, when asked, its presentation edges and the face texture's rigidity
    pair (on the flow's small grey frame). Runs on the analysis' flow thread, one frame at a time in order, beside
    the detection of the next."""
    pair = flow.measure(bgr, face)
    return (pair, frame.measure(flow.prev, flow.prev_box) if with_frame else None,
            rigid.measure(flow.prev, flow.prev_box) if rigid is not None else None)


def _selection_quality(bgr: np.ndarray, face: Face) -> float:
    """Sharp and frontal: Laplacian variance of the face times how centred the nose sits between the eyes."""
    l, t, r, b = face.rect(bgr.shape[1], bgr.shape[0])
    crop = bgr[t:b, l:r]
    if crop.size == 0:
        return 0.0
    if crop.shape[1] > 160:  # shrunk before it is turned grey: a large face costs no more than a small one
        crop = shrink(crop, 160, max(1, int(160 * crop.shape[0] / crop.shape[1])))
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    sharp = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    eyes, nose = face.landmarks[:2], face.landmarks[2]
    span = float(np.linalg.norm(eyes[1] - eyes[0])) or 1.0
    frontal = max(0.0, 1.0 - 2.0 * abs(float(nose[0] - eyes[:, 0].mean())) / span)
    return sharp * frontal * face.score


ALL_CUES = ("antispoof", "motion", "blink", "pulse", "moire", "planarity", "texture_planarity", "coupling", "frame",
            "nonrigid", "rigidity", "own_motion", "view_motion")
MESH_CUES = frozenset({"motion", "blink", "planarity", "nonrigid"})  # and the turn challenge
FLOW_CUES = frozenset({"coupling", "texture_planarity", "rigidity", "own_motion", "view_motion"})


class LivenessAnalyser:
    """`cues`: the cues to compute (default all of them, for the benchmarks and fitters); the service asks only for
    those its fusion weighs or vetoes, so the face mesh and the per-frame measurements no decision uses are not
    run (the mesh alone is ~30 ms per video-second)."""

    def __init__(self, detector: FaceFinder, mesh: "FaceMesh | None", fas: MiniFASNet, fusion: Fusion,
                 cues: Iterable[str] = ALL_CUES) -> None:
        self.detector = detector
        self.mesh = mesh
        self.fas = fas
        self.fusion = fusion
        self.cues = frozenset(cues)

    def observe(self, frames: Iterable[tuple[float, np.ndarray]],
                need_mesh: bool | None = None) -> tuple[list[Sample], dict, dict]:
        """Track the face through the frames; returns the samples, the best frame and the time per stage.
        Only what `self.cues` need is measured (`need_mesh=True`: the turn challenge's mesh and texture residual).
        The optical flow (coupling, frame edges) runs on a thread of its own, beside the tracking of the next
        frames."""
        want = self.cues
        challenge = bool(need_mesh)
        if need_mesh is None:
            need_mesh = bool(want & MESH_CUES)
        tracker = FaceTracker(self.detector)
        flow = (coupling.FlowMeter(plane="texture_planarity" in want or challenge)
                if want & FLOW_CUES or "frame" in want else None)
        flow_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liveness-flow") if flow else None
        rigid = rigidity.RigidityMeter() if flow is not None and "rigidity" in want else None
        rows: list[tuple[dict, Future | None]] = []
        best: dict = {}
        timings = {"decode": 0.0, "detect": 0.0, "mesh": 0.0, "antispoof": 0.0, "cues": 0.0}
        it = iter(frames)
        n = 0
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    t, bgr = next(it)
                except StopIteration:
                    break
                t1 = time.perf_counter()
                face = tracker.update(bgr)
                t2 = time.perf_counter()
                timings["decode"] += t1 - t0
                timings["detect"] += t2 - t1
                if face is None:
                    continue
                mesh = self.mesh.run(bgr, face) if self.mesh is not None and need_mesh else None
                t3 = time.perf_counter()
                p_real = self.fas.score(bgr, face.box) if n % ANTISPOOF_EVERY == 0 and "antispoof" in want else None
                t4 = time.perf_counter()
                pending = (flow_worker.submit(_flow_and_frame, flow, bgr, face,
                                              n % frame.FRAME_EVERY == 0 and "frame" in want, rigid)
                           if flow_worker is not None else None)
                skin = pulse.measure(bgr, face) if "pulse" in want else None
                m = moire.measure(bgr, face) if n % MOIRE_EVERY == 0 and "moire" in want else None
                quality = _selection_quality(bgr, face)
                if quality > best.get("quality", -1.0):
                    best = {"quality": quality, "t": t, "image": bgr.copy(), "face": face}
                points = mesh.points if mesh is not None and mesh.presence >= 0.5 else None
                rows.append((dict(t=t, face=face, points=points, antispoof=p_real, skin=skin, moire=m), pending))
                if len(rows) > FLOW_AHEAD and rows[-FLOW_AHEAD - 1][1] is not None:
                    rows[-FLOW_AHEAD - 1][1].result()  # the flow thread holds at most FLOW_AHEAD frames
                t5 = time.perf_counter()
                timings["mesh"] += t3 - t2
                timings["antispoof"] += t4 - t3
                timings["cues"] += t5 - t4
                n += 1
            t0 = time.perf_counter()
            samples = []
            for row, pending in rows:
                pair, framed, turned = pending.result() if pending is not None else (None, None, None)
                samples.append(Sample(**row, flow=pair, frame=framed, rigid=turned))
            timings["cues"] += time.perf_counter() - t0
        finally:
            if flow_worker is not None:
                flow_worker.shutdown(cancel_futures=True)
        return samples, best, timings

    def cue_scores(self, samples: list[Sample], fixed_camera: bool = False) -> dict[str, float | None]:
        """Each asked-for cue's score; None where the video carries no evidence for it (undecided)."""
        scores = {
            "antispoof": lambda: antispoof.score([s.antispoof for s in samples if s.antispoof is not None]),
            "motion": lambda: motion.score(samples),
            "blink": lambda: blink.score(samples),
            "pulse": lambda: pulse.score(samples),
            "moire": lambda: moire.score([s.moire for s in samples]),
            "planarity": lambda: planarity.score(samples),
            "texture_planarity": lambda: planarity.flow_score(samples),
            "coupling": lambda: coupling.score([s.flow for s in samples], fixed_camera),
            "frame": lambda: frame.score(samples),  # measured, not weighted (frame.py)
            "nonrigid": lambda: nonrigid.score(samples),  # measured, not weighted (nonrigid.py)
            "rigidity": lambda: rigidity.score(samples),
            "own_motion": lambda: ownmotion.score([s.flow for s in samples]),
            "view_motion": lambda: view.score([s.flow for s in samples], fixed_camera),  # the kiosk's camera only
        }
        return {name: scores[name]() for name in ALL_CUES if name in self.cues}

    def analyse_frames(self, frames: Iterable[tuple[float, np.ndarray]], *, fixed_camera: bool = False,
                       turn: str | None = None) -> LivenessResult:
        """The decision on a sequence of frames; raises NoTrackableFace when no face is ever followed.
        `fixed_camera`: the frames come from a camera known not to move (the kiosk's own), so the coupling counts
        every pair where the face moved, even where the frame's border moved along (an object that fills the view).
        `turn`: the person was asked to turn their head ("left"/"right", challenge.py); a face that did not turn
        that way as a head does is rejected whatever the silent cues say (decided_by "challenge")."""
        samples, best, timings = self.observe(frames, need_mesh=True if turn is not None else None)
        if not samples:
            raise NoTrackableFace("no face could be tracked in the video")
        t0 = time.perf_counter()
        cues = self.cue_scores(samples, fixed_camera)
        passed, score, decided_by = self.fusion.decide(cues)
        if turn is not None:
            answer = challenge.verify(samples, turn)
            cues.update(answer.cues())
            if passed and not answer.passed:
                passed, score, decided_by = False, min(score, self.fusion.threshold * 0.999), "challenge"
        timings["fusion"] = time.perf_counter() - t0
        step = float(np.median(np.diff([s.t for s in samples]))) if len(samples) > 1 else 0.0
        face_seconds = samples[-1].t - samples[0].t + step
        if face_seconds < MIN_FACE_SECONDS:
            status, passed, decided_by = "short_time", False, "short_time"
        else:
            status = "ok" if passed else "hack"
        image, face = best["image"], best["face"]
        return LivenessResult(passed=passed, score=round(score, 6), status=status, cues=cues,
                              face_seconds=face_seconds, frames=len(samples), image_timestamp=float(best["t"]),
                              image=image, face_rect=face.rect(image.shape[1], image.shape[0]),
                              aligned=align(image, face.landmarks), timings=timings, decided_by=decided_by)

    def analyse_image(self, bgr: np.ndarray) -> float:
        """MiniFASNet P(real) of one photo's main face (the whole photo when no face is found: a tight crop)."""
        faces = self.detector.detect(bgr)
        if faces:
            box = faces[0].box
        else:
            box = np.array([0, 0, bgr.shape[1] - 1, bgr.shape[0] - 1], np.float32)
        return self.fas.score(bgr, box)
