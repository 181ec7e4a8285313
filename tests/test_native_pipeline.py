"""The native core on real faces: the service gives the same tensors, embeddings and scores with
EDGE_FACE_NATIVE on and off, and camera frames in other layouts give what their BGR decode gives."""
from __future__ import annotations

import numpy as np
import pytest

from edge_face import native
from edge_face.config import Config
from edge_face.imaging import decode_image
from edge_face.services import FaceService, wire_faces

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason="the C++ extension was not built")

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg", "obama_partial_face.jpg",
          "Tom_Hanks_54745.png", "mask_blue.jpg")


@pytest.fixture(scope="module")
def service() -> FaceService:
    return wire_faces(Config())


@pytest.fixture(scope="module")
def images(photos):
    return {name: decode_image((photos / name).read_bytes()) for name in PHOTOS}


def test_real_faces_give_the_reference_tensors(service, images):
    specs = [e.spec for e, _ in service.embedder.parts]
    faces = 0
    for name, image in images.items():
        for face in service.locate(image, every_face=True):
            with native.use_native(True):
                got = native.face_tensors(face.frame, face.layout, face.matrix, specs)
            with native.use_native(False):
                want = native.face_tensors(face.frame, face.layout, face.matrix, specs)
            for g, w in zip(got, want):
                assert g.shape == w.shape and g.dtype == w.dtype
                assert np.abs(g - w).max() <= 1e-5 and np.array_equal(g, w), name
            faces += 1
    assert faces >= 10


def test_detection_embeddings_and_scores_do_not_move(service, images):
    def run():
        located = {n: service.locate(img, every_face=True) for n, img in images.items()}
        vectors = {n: service.embed(f) for n, f in located.items()}
        pair = service.verify_pair(images["obama.jpg"], images["obama2.jpg"])
        group = service.verify_all_pairs(images["t1.jpg"], images["t1.jpg"])
        return located, vectors, pair, group

    with native.use_native(True):
        l1, v1, p1, g1 = run()
    with native.use_native(False):
        l0, v0, p0, g0 = run()
    for n in images:
        assert [f.rect for f in l1[n]] == [f.rect for f in l0[n]], n
        np.testing.assert_array_equal(v1[n], v0[n])
    # the embeddings are the same bytes; the native cosine sums in another order (within 1e-6)
    assert (p1.first_rect, p1.second_rect) == (p0.first_rect, p0.second_rect)
    assert abs(p1.cosine - p0.cosine) <= 1e-6 and abs(p1.score - p0.score) <= 1e-5
    assert (g1.first_rects, g1.second_rects) == (g0.first_rects, g0.second_rects)
    np.testing.assert_allclose(g1.scores, g0.scores, atol=1e-5)


def test_a_camera_frame_in_bgrx_with_padded_rows_is_the_photo(service, images):
    """picamera2's XRGB8888 arrives as B, G, R, X bytes with rows padded to its stride: located and embedded
    as it is, it gives what the BGR photo gives."""
    image = images["t1.jpg"]
    h, w = image.shape[:2]
    stride = (w * 4 + 63) // 64 * 64 + 64
    buf = np.full(h * stride, 255, np.uint8)
    frame = np.lib.stride_tricks.as_strided(buf, (h, w, 4), (stride, 4, 1))
    frame[:, :, :3] = image
    for flag in (True, False):
        with native.use_native(flag):
            want = service.locate(image, every_face=True)
            got = service.locate(frame, every_face=True, layout="bgrx")
            assert [f.rect for f in got] == [f.rect for f in want]
            np.testing.assert_array_equal(service.embed(got), service.embed(want))
            np.testing.assert_array_equal(got[0].crop, want[0].crop)


def test_the_crop_property_is_the_reference_crop(service, images):
    """One crop path: LocatedFace.crop and align both go through the native switch, and either way they are
    cv2.warpAffine's bytes."""
    from edge_face.native import reference
    from edge_face.pipeline.align import align, alignment_matrix

    image = images["obama.jpg"]
    (face,) = service.locate(image)
    det = service.detector.detect(image)
    want_face = reference.warp_affine(image, face.matrix, 112, 112)
    want_det = reference.warp_affine(image, alignment_matrix(det[0].landmarks), 112, 112)
    for flag in (True, False):
        with native.use_native(flag):
            np.testing.assert_array_equal(face.crop, want_face)
            np.testing.assert_array_equal(align(image, det[0].landmarks), want_det)
