"""OpenCV's 8-bit warp and resize arithmetic restated in NumPy: the written-down form the C++ kernels follow.

Test-only oracles: they check the native core where cv2 itself is not the same (another OpenCV build, output
widths where cv2's vector loop leaves a scalar tail). The path that runs with EDGE_FACE_NATIVE=0 is
edge_face.native.reference (cv2 itself).
"""
from __future__ import annotations

import math

import numpy as np


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 a * b + c rounded once (the product is exact in float64; the sum rounds to float64 and then to
    float32, which is the single rounding for the operands of these kernels)."""
    return (np.float64(1) * a * b + c).astype(np.float32)


def _invert_affine(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64).reshape(6).copy()
    d = m[0] * m[4] - m[1] * m[3]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m[4] * d, m[0] * d
    m[0], m[1], m[3], m[4] = a11, m[1] * -d, m[3] * -d, a22
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    return m


def numpy_warp_affine(bgr: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2.warpAffine INTER_LINEAR / BORDER_CONSTANT 0 on 8-bit images as OpenCV >= 4.11 computes it
    (imgproc/src/warp_kernels.simd.hpp): the inverse matrix in float32; per pixel the source point
    (fma(M0, x, y*M1 + M2), fma(M3, x, y*M4 + M5)), the row terms with two roundings; the blend
    f0 = fma(ax, p01 - p00, p00), f1 = fma(ax, p11 - p10, p10), fma(ay, f1 - f0, f0) in float32; neighbours outside
    the image are 0; round half to even, saturate."""
    f32 = np.float32
    im = _invert_affine(matrix).astype(f32)
    h, w = bgr.shape[:2]
    ys = np.arange(height, dtype=f32)[:, None]
    xs = np.broadcast_to(np.arange(width, dtype=f32)[None, :], (height, width))
    mx = np.broadcast_to(ys * im[1] + im[2], (height, width))
    my = np.broadcast_to(ys * im[4] + im[5], (height, width))
    sx = _fma32(np.full((height, width), im[0]), xs, mx)
    sy = _fma32(np.full((height, width), im[3]), xs, my)
    fx, fy = np.floor(sx), np.floor(sy)
    ax, ay = (sx - fx)[..., None], (sy - fy)[..., None]
    big = np.float32(4 * max(h, w) + 16)  # far outside either way: keeps the integer conversion defined
    ix = np.clip(fx, -big, big).astype(np.int64)
    iy = np.clip(fy, -big, big).astype(np.int64)
    img = bgr.astype(f32)

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        v = img[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        v[~inside] = 0
        return v

    p00, p01, p10, p11 = at(iy, ix), at(iy, ix + 1), at(iy + 1, ix), at(iy + 1, ix + 1)
    ax3, ay3 = np.broadcast_to(ax, p00.shape), np.broadcast_to(ay, p00.shape)
    f0 = _fma32(ax3, p01 - p00, p00)
    f1 = _fma32(ax3, p11 - p10, p10)
    return np.clip(np.rint(_fma32(ay3, f1 - f0, f0)), 0, 255).astype(np.uint8)


def numpy_resize_linear(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2.resize INTER_LINEAR on 8-bit images (resize.cpp, HResizeLinear / VResizeLinear 32s8u): weights
    round((1 - f) * 2048), round(f * 2048) from the float32 fraction of (d + 0.5) * scale - 0.5; columns clamped
    to the image with weight 2048 at the ends; rows not clamped in weight, only in index; the vertical blend
    (((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2."""

    def axis(n_src: int, n_dst: int, clamp: bool):
        scale = 1.0 / (n_dst / n_src)
        f = ((np.arange(n_dst) + 0.5) * scale - 0.5).astype(np.float32)
        s = np.floor(f).astype(np.int64)
        f = (f - s).astype(np.float32)
        if clamp:
            f[s < 0], s[s < 0] = 0, 0
            hi = s >= n_src - 1
            f[hi], s[hi] = 0, n_src - 1
        a1 = np.rint(f * np.float32(2048)).astype(np.int64)
        a0 = np.rint((np.float32(1) - f) * np.float32(2048)).astype(np.int64)
        return np.clip(s, 0, n_src - 1), np.clip(s + 1, 0, n_src - 1), a0, a1

    h, w = bgr.shape[:2]
    x0, x1, a0, a1 = axis(w, width, True)
    y0, y1, b0, b1 = axis(h, height, False)
    img = bgr.astype(np.int64)
    rows = img[:, x0] * a0[None, :, None] + img[:, x1] * a1[None, :, None]
    s0, s1 = rows[y0], rows[y1]
    out = (((b0[:, None, None] * (s0 >> 4)) >> 16) + ((b1[:, None, None] * (s1 >> 4)) >> 16) + 2) >> 2
    return np.clip(out, 0, 255).astype(np.uint8)


def _area_tab(n_src: int, n_dst: int, scale: float) -> list[list[tuple[int, np.float32]]]:
    tabs = []
    for d in range(n_dst):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, n_src - f1)
        s1, s2 = math.ceil(f1), math.floor(f2)
        s2 = min(s2, n_src - 1)
        s1 = min(s1, s2)
        taps = []
        if s1 - f1 > 1e-3:
            taps.append((s1 - 1, np.float32((s1 - f1) / cell)))
        taps += [(s, np.float32(1.0 / cell)) for s in range(s1, s2)]
        if f2 - s2 > 1e-3:
            taps.append((s2, np.float32(min(min(f2 - s2, 1.0), cell) / cell)))
        tabs.append(taps)
    return tabs


def numpy_resize_area(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2.resize INTER_AREA shrinking 8-bit images (resize.cpp): whole-number factors average integer sums
    ((sum + 2) >> 2 for 2x2, round(sum * float32(1 / area)) otherwise); other factors accumulate float32 area
    weights (computeResizeAreaTab) row by row in OpenCV's order, then round half to even."""
    h, w, c = bgr.shape
    sx, sy = 1.0 / (width / w), 1.0 / (height / h)
    kx, ky = round(sx), round(sy)
    if abs(sx - kx) < np.finfo(np.float64).eps and abs(sy - ky) < np.finfo(np.float64).eps:
        s = bgr[:height * ky, :width * kx].astype(np.int64).reshape(height, ky, width, kx, c).sum((1, 3))
        if kx == 2 and ky == 2:
            return ((s + 2) >> 2).astype(np.uint8)
        return np.clip(np.rint(s.astype(np.float32) * np.float32(1.0 / (kx * ky))), 0, 255).astype(np.uint8)
    xt, yt = _area_tab(w, width, sx), _area_tab(h, height, sy)
    k = max(len(t) for t in xt)
    idx = np.zeros((width, k), np.int64)
    alpha = np.zeros((width, k), np.float32)
    for d, taps in enumerate(xt):
        for j, (s, a) in enumerate(taps):
            idx[d, j], alpha[d, j] = s, a
    img = bgr.astype(np.float32)
    buf = np.zeros((h, width, c), np.float32)
    for j in range(k):  # taps in order; a missing tap adds 0 * pixel = 0, which changes nothing
        buf = buf + img[:, idx[:, j]] * alpha[None, :, j, None]
    out = np.zeros((height, width, c), np.float32)
    for d, taps in enumerate(yt):
        acc = np.zeros((width, c), np.float32)
        for s, beta in taps:
            acc = acc + beta * buf[s]
        out[d] = acc
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
