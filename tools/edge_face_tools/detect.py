"""`edge-face bench detect`: multi-face detection recall and false detections on dlib imglab XML boxes.

DIR holds photos and imglab files (training.xml, testing.xml; *_with_face_landmarks.xml are ignored). A face counts
as found when a detection overlaps it with IoU >= 0.4 (dlib's boxes are tighter than ours); a detection that overlaps
no annotated face is a false detection. Photos that no XML annotates are reported with their face counts (a photo
of animals must have none).
"""
from __future__ import annotations

import statistics
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from edge_face.imaging import decode_image
from edge_face.services.faces import FaceService

IOU_MIN = 0.4


def read_boxes(data: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    boxes: dict[str, list] = {}
    for xml in sorted(data.glob("*.xml")):
        if "landmarks" in xml.name:
            continue
        for image in ET.parse(xml).getroot().iter("image"):
            for b in image.iter("box"):
                if b.get("ignore") == "1":
                    continue
                l, t, w, h = (float(b.get(k)) for k in ("left", "top", "width", "height"))
                boxes.setdefault(image.get("file"), []).append((l, t, l + w, t + h))
    return boxes


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of a (N x 4) with every box of b (M x 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def run(data: Path, service: FaceService) -> dict:
    truth = read_boxes(data)
    photos = sorted(p.name for p in data.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    annotated = found = false = 0
    per_photo, unannotated, times = {}, {}, []
    for name in photos:
        img = decode_image((data / name).read_bytes())
        t0 = time.perf_counter()
        faces = service.locate(img, every_face=True)
        times.append((time.perf_counter() - t0) * 1e3)
        det = np.array([f.rect for f in faces], np.float64).reshape(-1, 4)
        if name not in truth:
            unannotated[name] = len(faces)
            continue
        gt = np.array(truth[name], np.float64)
        m = iou(gt, det) if len(det) else np.zeros((len(gt), 0))
        hit = (m >= IOU_MIN).any(axis=1) if len(det) else np.zeros(len(gt), bool)
        fp = int((~(m >= IOU_MIN).any(axis=0)).sum()) if len(det) else 0
        annotated += len(gt)
        found += int(hit.sum())
        false += fp
        per_photo[name] = {"annotated": len(gt), "found": int(hit.sum()), "detections": len(det), "false": fp}
    return {
        "annotated_faces": annotated,
        "found": found,
        "recall": found / annotated if annotated else float("nan"),
        "false_detections": false,
        "iou_min": IOU_MIN,
        "per_photo": per_photo,
        "unannotated_photos_faces": unannotated,
        "ms_per_photo_median": statistics.median(times) if times else float("nan"),
    }
