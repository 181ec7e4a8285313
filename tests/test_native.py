"""The native core against its reference (edge_face.native.reference: OpenCV + NumPy) and, where cv2 itself
is not exact, against OpenCV's arithmetic restated in NumPy (tests/support/oracles.py).

Bounds of the issue: float outputs within 1e-5 of the reference, quantized outputs within 1 LSB, for every pixel
layout and odd strides, on random inputs and real faces. The kernels restate OpenCV's arithmetic, so the
differences found are 0; the asserts keep the issue's bounds and the exact counts are checked separately.
Every check runs on both copies of the dispatched kernels (baseline and, where the CPU has them, AVX2 + FMA).
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import zlib

import cv2
import numpy as np
import pytest

from edge_face import native
from edge_face.models.contract import LAYOUTS, InputSpec
from edge_face.native import reference
from tests.support import oracles

pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason="the C++ extension was not built")

_native = native._native

SPECS = {
    "sface": InputSpec(112, 112, "rgb"),
    "mobilefacenet_b2": InputSpec(112, 112, "rgb", (127.5,) * 3, (128.0,) * 3, mirror=True),
    "bgr_nchw": InputSpec(112, 112, "bgr", (104.0, 117.0, 123.0), (57.0, 57.5, 58.0), nchw=True),
    "int8": InputSpec(112, 112, "rgb", (127.5,) * 3, (128.0,) * 3, dtype="int8", scale=0.0078125, zero_point=-1),
    "uint8_mirror_nchw": InputSpec(112, 112, "rgb", dtype="uint8", scale=1.7, zero_point=3, mirror=True, nchw=True),
}


@pytest.fixture(params=["baseline", "dispatched"])
def isa(request):
    """Run the test on the baseline kernels, then on the ones this CPU dispatches to."""
    _native.force_baseline(request.param == "baseline")
    yield _native.kernel_isa()
    _native.force_baseline(False)


def assert_equivalent(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if want.dtype == np.float32:
        assert diff.max() <= 1e-5, diff.max()
    else:
        assert diff.max() <= 1, diff.max()
    assert np.count_nonzero(diff) == 0, f"{np.count_nonzero(diff)} values differ (max {diff.max()})"


def frame_in(layout: str, h: int, w: int, rng: np.random.Generator, how: str) -> np.ndarray:
    """A frame of `layout` with odd strides: `how` = contiguous, padded (row stride with 13 spare bytes), strided
    (every second pixel of a wider buffer), flipped (negative row and pixel strides), or channel_view (channels
    picked out of a 5-channel buffer)."""
    _, c = LAYOUTS[layout]
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 1.5)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    base = np.where(rng.random((h, w, 1)) < 0.5, smooth, noise).astype(np.uint8)
    full = np.concatenate([base, rng.integers(0, 256, (h, w, c - 3), dtype=np.uint8)], axis=2) if c > 3 else base
    if how == "contiguous":
        return np.ascontiguousarray(full)
    if how == "padded":
        buf = np.zeros(h * (w * c + 13), np.uint8)
        view = np.lib.stride_tricks.as_strided(buf, (h, w, c), (w * c + 13, c, 1))
        view[:] = full
        return view
    if how == "strided":
        big = np.zeros((h, 2 * w, c), np.uint8)
        big[:, ::2] = full
        return big[:, ::2]
    if how == "flipped":
        return np.ascontiguousarray(full[::-1, ::-1])[::-1, ::-1]
    if how == "channel_view":
        big = np.zeros((h, w, 5), np.uint8)
        big[:, :, 1:1 + c] = full
        return big[:, :, 1:1 + c]
    raise ValueError(how)


def similarity(rng: np.random.Generator, h: int, w: int, border: bool) -> np.ndarray:
    """A random frame -> 112x112 similarity, the face inside the frame or straddling its border."""
    face = rng.uniform(min(40, 0.5 * min(h, w)), (1.2 if border else 0.9) * min(h, w))
    cx = rng.uniform(-0.2 * w, 1.2 * w) if border else rng.uniform(face / 2, w - face / 2)
    cy = rng.uniform(-0.2 * h, 1.2 * h) if border else rng.uniform(face / 2, h - face / 2)
    s, a = 112.0 / face, rng.uniform(-np.pi, np.pi)
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([rot, (np.array([56.0, 56.0]) - rot @ [cx, cy])[:, None]])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("how", ["contiguous", "padded", "strided", "flipped", "channel_view"])
def test_face_tensors_equal_the_reference_for_every_layout_and_stride(isa, layout, how):
    rng = np.random.default_rng(zlib.crc32(f"{layout}-{how}".encode()))
    specs = list(SPECS.values())
    for trial in range(6):
        h, w = (int(v) for v in rng.integers(60, 400, 2))
        frame = frame_in(layout, h, w, rng, how)
        m = similarity(rng, h, w, border=trial % 2 == 1)
        with native.use_native(True):
            got = native.face_tensors(frame, layout, m, specs)
        with native.use_native(False):
            want = native.face_tensors(frame, layout, m, specs)
        for g, r in zip(got, want):
            assert_equivalent(g, r)


def test_face_tensors_match_the_contract_of_the_embedders():
    """SFace: RGB 0..255; MobileFaceNet: RGB (x - 127.5) / 128 with the mirror in the second slot."""
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (200, 180, 3), dtype=np.uint8)
    m = similarity(rng, 200, 180, border=False)
    crop = cv2.warpAffine(frame, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    sface, mfn = native.face_tensors(frame, "bgr", m, [SPECS["sface"], SPECS["mobilefacenet_b2"]])
    np.testing.assert_array_equal(sface[0], crop[:, :, ::-1].astype(np.float32))
    rgb = (crop[:, :, ::-1].astype(np.float32) - 127.5) / 128.0
    np.testing.assert_array_equal(mfn, np.stack([rgb, rgb[:, ::-1]]))
    np.testing.assert_array_equal(native.crop(frame, "bgr", m), crop)


@pytest.mark.parametrize("size", [(112, 112), (113, 97), (7, 5), (1, 1), (250, 31)])
def test_warp_equals_its_numpy_restatement_at_any_size_and_cv2_within_one_level(isa, size):
    """Exact against the NumPy restatement of OpenCV's kernel at every size. cv2 itself is exact where its vector
    loop covers the row (widths that are multiples of 16 here) and may differ by 1 in its scalar tail."""
    w, h = size
    rng = np.random.default_rng(w * 1000 + h)
    mismatches = total = 0
    for trial in range(12):
        fh, fw = (int(v) for v in rng.integers(8, 300, 2))
        frame = rng.integers(0, 256, (fh, fw, 3), dtype=np.uint8)
        m = similarity(rng, fh, fw, border=trial % 3 == 0)
        if trial == 0:  # half-pixel shifts: ties in the rounding
            m = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -1.5]])
        spec = InputSpec(h, w, "bgr", dtype="uint8", scale=1.0)
        (got,) = native.face_tensors(frame, "bgr", m, [spec])
        np.testing.assert_array_equal(got[0], oracles.numpy_warp_affine(frame, m, w, h))
        cv = reference.warp_affine(frame, m, w, h)
        assert np.abs(got[0].astype(int) - cv).max() <= 1
        mismatches += int(np.count_nonzero(got[0] != cv))
        total += cv.size
    assert mismatches <= max(3, total // 10000)
    if w % 16 == 0:
        assert mismatches == 0


def test_odd_matrices_and_degenerate_input():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    specs = [SPECS["sface"], SPECS["int8"]]
    for m in (np.zeros((2, 3)), np.array([[1e-9, 0, 0], [0, 1e-9, 0]]), np.array([[1e6, 0, -1e8], [0, 1e6, 0]]),
              np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), np.array([[-1.0, 0, 69], [0, -1.0, 49]])):
        with native.use_native(True):
            got = native.face_tensors(frame, "bgr", m, specs)
        with native.use_native(False):
            want = native.face_tensors(frame, "bgr", m, specs)
        for g, r in zip(got, want):
            assert_equivalent(g, r)
    with pytest.raises(ValueError):
        native.face_tensors(frame.astype(np.float32), "bgr", np.eye(2, 3), specs)
    with pytest.raises(ValueError):
        native.face_tensors(frame, "bgrx", np.eye(2, 3), specs)
    with pytest.raises(ValueError):
        _native.warp_affine(frame, [0, 1, 2], np.eye(2, 3), 112, 112,
                            [(np.empty((1, 56, 56, 3), np.float32), SPECS["sface"].lut, [2, 1, 0], False, 0, -1)])


# --- the detector's letterbox ---------------------------------------------------------------------------------

LETTERBOX_CASES = [  # frame (h, w) -> resized (w, h), interpolation: every kernel of cv2.resize used here
    ((250, 250), (250, 250), "linear"),  # copy
    ((97, 61), (160, 102), "linear"),  # enlarge
    ((960, 1280), (640, 480), "area"),  # 2x2 mean
    ((1080, 1920), (640, 360), "area"),  # 3x3 mean
    ((1280, 640), (320, 640), "area"),  # 2x1 mean
    ((1520, 2028), (640, 480), "area"),  # general area weights
    ((480, 560), (320, 274), "area"),  # the quick path's closer look at a 640x480 photo's face
    ((700, 641), (585, 640), "area"),  # barely shrinking
    ((301, 1203), (640, 160), "area"),
    ((200, 300), (100, 100), "linear"),  # exact halving: cv2 takes the 2x2 mean
    ((200, 300), (170, 110), "linear"),  # shrinking bilinear
]


@pytest.mark.parametrize("case", LETTERBOX_CASES, ids=lambda c: f"{c[0][1]}x{c[0][0]}-{c[1][0]}x{c[1][1]}-{c[2]}")
@pytest.mark.parametrize("layout,how", [("bgr", "contiguous"), ("rgb", "padded"), ("bgrx", "padded"),
                                        ("xrgb", "strided"), ("rgbx", "flipped"), ("xbgr", "channel_view")])
def test_letterbox_equals_the_reference(isa, case, layout, how):
    (h, w), (sw, sh), interp = case
    rng = np.random.default_rng(h * w + sw)
    frame = frame_in(layout, h, w, rng, how)
    pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
    for spec in (InputSpec(ph, pw, "bgr"), InputSpec(ph, pw, "rgb", (127.0,) * 3, (2.0,) * 3, nchw=True),
                 InputSpec(ph, pw, "bgr", dtype="int8", scale=1.0, zero_point=-128)):
        with native.use_native(True):
            got = native.letterbox(frame, layout, spec, (sw, sh), interp)
        with native.use_native(False):
            want = native.letterbox(frame, layout, spec, (sw, sh), interp)
        assert_equivalent(got, want)


def test_detector_input_is_the_reference_for_photos_of_every_size():
    from edge_face.pipeline.detect import YuNetDetector

    det = YuNetDetector(None)
    rng = np.random.default_rng(4)
    for h, w in [(480, 640), (3000, 4000), (1520, 2028), (120, 100), (37, 53), (641, 641), (1281, 959)]:
        frame = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3), 1)
        with native.use_native(True):
            got, s1 = det._input(frame)
        with native.use_native(False):
            want, s0 = det._input(frame)
        assert s1 == s0
        assert_equivalent(got, want)


def test_resize_restatements_equal_cv2():
    """The NumPy restatements of cv2.resize (INTER_LINEAR, INTER_AREA on 8 bits) are what this OpenCV computes."""
    rng = np.random.default_rng(6)
    for (h, w), (sw, sh) in [((37, 53), (160, 112)), ((13, 100), (33, 250))]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        np.testing.assert_array_equal(oracles.numpy_resize_linear(img, sw, sh),
                                      cv2.resize(img, (sw, sh), interpolation=cv2.INTER_LINEAR))
    for (h, w), (sw, sh) in [((960, 1280), (640, 480)), ((900, 900), (300, 300)), ((1520, 2028), (640, 480)),
                             ((750, 1000), (640, 481))]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        np.testing.assert_array_equal(oracles.numpy_resize_area(img, sw, sh),
                                      cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA))


# --- scoring --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,m,d", [(1, 1, 320), (4, 3, 320), (64, 64, 320), (65, 17, 13), (2, 40, 1), (0, 5, 8),
                                   (5, 0, 8), (130, 129, 192)])
def test_cosine_matrix_equals_the_reference(isa, n, m, d):
    rng = np.random.default_rng(n * 1000 + m)
    a = rng.normal(size=(n, d)).astype(np.float32)
    b = rng.normal(size=(m, d)).astype(np.float32)
    if n > 2:
        a[1] = 0  # a zero row: cosine 0, as the reference
        b[min(1, m - 1):min(2, m)] = a[2] * 3  # parallel rows: cosine 1
    got = _native.cosine_matrix(a, b)
    want = reference.cosine_matrix(a, b)
    assert got.shape == want.shape == (n, m)
    if got.size:
        assert np.abs(got - want).max() <= 1e-5


def test_cosine_matrix_of_real_embeddings_is_symmetric_with_a_unit_diagonal():
    rng = np.random.default_rng(8)
    v = rng.normal(size=(64, 320)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    c = native.cosine_matrix(v, v)
    assert np.abs(np.diag(c) - 1).max() <= 1e-6
    assert np.abs(c - c.T).max() <= 1e-6


def test_interp_is_numpy_interp_bit_for_bit():
    knots_x = np.array([-1.0, -0.428197, 0.030859, 0.1, 0.2, 0.35, 0.6, 1.0])
    knots_y = np.array([0.0, 0.3, 0.325, 0.4, 0.5, 0.7, 0.9, 1.0])
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-1.5, 1.5, 10000), knots_x, [np.nan, -np.inf, np.inf, 1.0, -1.0]])
    got = _native.interp(x, knots_x, knots_y)
    want = np.interp(x, knots_x, knots_y)
    np.testing.assert_array_equal(got, want)
    assert float(_native.interp(np.float64(0.15), knots_x, knots_y)) == float(np.interp(0.15, knots_x, knots_y))


def test_calibration_score_is_the_same_either_way():
    from edge_face.pipeline.calibrate import Calibration

    cal = Calibration.from_dict({"knots": [[-1, 0], [-0.4, 0.3], [0.2, 0.5], [0.5, 0.8], [1, 1]]})
    x = np.linspace(-1.2, 1.2, 1001)
    with native.use_native(True):
        got = cal.score(x)
    with native.use_native(False):
        want = cal.score(x)
    np.testing.assert_array_equal(got, want)


# --- run-time behaviour ---------------------------------------------------------------------------------------

def test_native_routines_release_the_gil():
    """A Python thread keeps running while another thread is inside a long native call."""
    rng = np.random.default_rng(10)
    a = rng.normal(size=(1500, 320)).astype(np.float32)
    b = rng.normal(size=(3000, 320)).astype(np.float32)
    frame = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    spec = InputSpec(480, 640, "bgr")

    def count_for(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n

    for call in (lambda: _native.cosine_matrix(a, b),
                 lambda: native.letterbox(frame, "bgr", spec, (640, 480), "area")):
        t0 = time.perf_counter()
        call()
        busy = time.perf_counter() - t0
        free_rate = count_for(0.05) / 0.05
        done = threading.Event()
        worker = threading.Thread(target=lambda: (call(), call(), done.set()))
        n, t0 = 0, time.perf_counter()
        worker.start()
        while not done.is_set():
            n += 1
        elapsed = time.perf_counter() - t0
        worker.join()
        # with the GIL held by the native call, this loop would only run between the calls
        assert n > 0.1 * free_rate * min(elapsed, 2 * busy), (n, free_rate, elapsed, busy)


def test_environment_variable_selects_the_reference():
    code = ("from edge_face import native; import numpy as np; "
            "print(native.enabled(), native.AVAILABLE)")
    for value, expected in (("0", "False True"), ("1", "True True")):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "EDGE_FACE_NATIVE": value},
                             capture_output=True, text=True, check=True).stdout.split()
        assert " ".join(out) == expected


def test_use_native_is_per_thread_and_restores():
    assert native.enabled() == native.ENABLED
    with native.use_native(False):
        assert not native.enabled()
        seen = []
        t = threading.Thread(target=lambda: seen.append(native.enabled()))
        t.start()
        t.join()
        assert seen == [native.ENABLED]
        with native.use_native(True):
            assert native.enabled()
        assert not native.enabled()
    assert native.enabled() == native.ENABLED


def test_set_enabled_switches_every_thread_without_its_own_setting():
    seen = []

    def look():
        seen.append(native.enabled())

    try:
        native.set_enabled(False)
        t = threading.Thread(target=look)
        t.start()
        t.join()
        with native.use_native(True):
            assert native.enabled()
        native.set_enabled(True)
        look()
    finally:
        native.set_enabled(native.ENABLED)
    assert seen == [False, True]


def test_build_flags_are_portable():
    """No -march/-mtune in the distributed build; the wider kernels are chosen at run time."""
    from pathlib import Path

    import re

    setup = (Path(__file__).resolve().parents[1] / "setup.py").read_text()
    flags = re.findall(r'"(-[^"]+)"', re.search(r"extra_compile_args=\[(.*?)\]", setup, re.S).group(1))
    assert "-ffp-contract=off" in flags and not any(f.startswith(("-march", "-mtune", "-mavx", "-mfma")) for f in flags)
    assert _native.kernel_isa() in ("baseline", "x86-64+avx2+fma", "aarch64")
