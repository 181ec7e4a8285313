// Fused preprocessing: decoded frame -> model input tensor in one pass, bit-exact with OpenCV 5.0 + NumPy.
//
// The reference (edge_face/native/reference.py) is cv2.warpAffine / cv2.resize on a contiguous BGR copy of the
// frame, then the normalisation of the model's contract. These kernels restate OpenCV's arithmetic exactly:
//   * warpAffine INTER_LINEAR, BORDER_CONSTANT 0 (imgproc/src/warp_kernels.simd.hpp since OpenCV 4.11): the
//     inverted matrix in float32, source coordinates x*M0 + (y*M1 + M2) with a fused multiply-add, bilinear
//     blend as three fused multiply-adds in float32, round half to even, saturate to uint8;
//   * resize INTER_LINEAR on 8-bit (resize.cpp): 11-bit fixed-point weights, the (b*(S>>4))>>16 vertical blend;
//   * resize INTER_AREA (resize.cpp): integer means for whole-number factors (2x2: (sum+2)>>2), otherwise
//     float32 area weights accumulated in OpenCV's order.
// Every kernel produces one output row of 8-bit B, G, R; `emit_row` then looks each value up in the model's
// table (normalisation and quantization, computed in Python by the reference formula, so they cannot drift)
// and stores it in the tensor's layout (NHWC or NCHW, optional mirrored batch slot).
//
// Floating-point contraction must stay off (-ffp-contract=off in setup.py): every rounding step is part of
// the definition.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cpu.hpp"

namespace edge_face {

using index_t = std::ptrdiff_t;

// OpenCV's saturate_cast<uchar>(float): round half to even (the default rounding mode), then clamp.
static inline uint8_t round_u8(float v) {
    long r = std::lrintf(v);
    return static_cast<uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

// A decoded frame: H x W pixels of C interleaved 8-bit channels, any byte strides (negative too).
struct Frame {
    const uint8_t* data = nullptr;
    index_t h = 0, w = 0;
    index_t row = 0, pix = 0;    // byte strides
    index_t off[3] = {0, 0, 0};  // byte offset of B, G and R inside a pixel
    // Whole-word reads: when B, G and R lie within 4 bytes from `word_base` (relative to a pixel), a pixel can be
    // read as one little-endian word whose byte `shift[k] / 8` is channel k. word_tail: that read never leaves
    // the frame (4 or more bytes per pixel); otherwise it may run past the last pixel and is not used there.
    bool word_ok = false, word_tail = false;
    index_t word_base = 0;
    unsigned shift[3] = {0, 8, 16};

    inline const uint8_t* at(index_t y, index_t x) const { return data + y * row + x * pix; }

    inline uint32_t to_word(const uint8_t* p) const {  // the channels of the pixel at p, as the word read gives them
        uint32_t v = 0;
        for (int k = 0; k < 3; ++k) v |= static_cast<uint32_t>(p[off[k]]) << shift[k];
        return v;
    }

    void plan_word_reads(index_t channel_stride, index_t channels) {
        word_ok = false;
        if (!is_little_endian() || pix <= 0 || row <= 0 || channel_stride == 0) return;
        const index_t lo = std::min({off[0], off[1], off[2]}), hi = std::max({off[0], off[1], off[2]});
        if (hi - lo > 3) return;
        // the bytes of the whole pixel: [min(0, (C-1)*cs), max(0, (C-1)*cs)]
        const index_t plo = std::min<index_t>(0, (channels - 1) * channel_stride);
        const index_t phi = std::max<index_t>(0, (channels - 1) * channel_stride);
        if (phi - plo + 1 >= 4 && pix >= 4) {  // a 4-byte pixel: read exactly its bytes
            word_base = plo;
            word_tail = (phi - plo + 1) == 4 && lo - plo <= 3 && hi - plo <= 3;
            if (!word_tail) word_base = lo;
        } else {
            word_base = lo;
            word_tail = false;
        }
        for (int k = 0; k < 3; ++k) shift[k] = static_cast<unsigned>(8 * (off[k] - word_base));
        word_ok = true;
    }

    static bool is_little_endian() {
        const uint16_t one = 1;
        uint8_t b;
        std::memcpy(&b, &one, 1);
        return b == 1;
    }
};

enum class DType { F32 = 0, I8 = 1, U8 = 2 };

// Where one model input tensor goes: (N, H, W, C) or (N, C, H, W), C = 3.
struct Target {
    DType dtype = DType::F32;
    void* out = nullptr;
    const void* lut = nullptr;  // [3][256]: output channel c, 8-bit value v -> tensor value
    int src[3] = {2, 1, 0};     // output channel c takes B (0), G (1) or R (2)
    bool nchw = false;
    index_t h = 0, w = 0;
    index_t slot = 0;           // batch index written
    index_t mirror = -1;        // batch index that receives the horizontal mirror, or -1
};

template <typename T>
static void emit_row_t(const Target& t, const uint8_t* const planes[3], index_t y, index_t valid) {
    const T* lut = static_cast<const T*>(t.lut);
    T* out = static_cast<T*>(t.out);
    const index_t W = t.w, H = t.h;
    const T* L0 = lut;
    const T* L1 = lut + 256;
    const T* L2 = lut + 512;
    const uint8_t* p0 = planes[t.src[0]];
    const uint8_t* p1 = planes[t.src[1]];
    const uint8_t* p2 = planes[t.src[2]];
    if (!t.nchw) {  // pixels of 3 consecutive values; the mirror row is written in the same pass
        T* o = out + ((t.slot * H + y) * W) * 3;
        T* m = t.mirror >= 0 ? out + ((t.mirror * H + y) * W) * 3 : nullptr;
        for (index_t x = 0; x < W; ++x) {
            const bool in = x < valid;
            const T v0 = in ? L0[p0[x]] : L0[0], v1 = in ? L1[p1[x]] : L1[0], v2 = in ? L2[p2[x]] : L2[0];
            o[x * 3] = v0; o[x * 3 + 1] = v1; o[x * 3 + 2] = v2;
            if (m) {
                T* q = m + (W - 1 - x) * 3;
                q[0] = v0; q[1] = v1; q[2] = v2;
            }
        }
    } else {
        const uint8_t* ps[3] = {p0, p1, p2};
        const T* Ls[3] = {L0, L1, L2};
        for (int c = 0; c < 3; ++c) {
            const T* L = Ls[c];
            const uint8_t* p = ps[c];
            T* o = out + ((t.slot * 3 + c) * H + y) * W;
            for (index_t x = 0; x < valid; ++x) o[x] = L[p[x]];
            for (index_t x = valid; x < W; ++x) o[x] = L[0];
            if (t.mirror >= 0) {
                T* m = out + ((t.mirror * 3 + c) * H + y) * W;
                for (index_t x = 0; x < W; ++x) m[W - 1 - x] = o[x];
            }
        }
    }
}

// One output row, given as B, G and R planes (the first `valid` pixels; the rest of the row is black).
static inline void emit_row(const Target& t, const uint8_t* const planes[3], index_t y, index_t valid) {
    switch (t.dtype) {
        case DType::F32: emit_row_t<float>(t, planes, y, valid); break;
        case DType::I8: emit_row_t<int8_t>(t, planes, y, valid); break;
        case DType::U8: emit_row_t<uint8_t>(t, planes, y, valid); break;
    }
}

// Three planes of one row, owned.
struct Planes {
    std::vector<uint8_t> buf;
    uint8_t* p[3];
    explicit Planes(index_t w) : buf(static_cast<size_t>(3 * std::max<index_t>(w, 1)), 0) {
        const index_t n = std::max<index_t>(w, 1);
        p[0] = buf.data(); p[1] = p[0] + n; p[2] = p[1] + n;
    }
};

// ---------------------------------------------------------------------------------------------------------------
// Affine warp

// cv::warpAffine inverts the forward (frame -> crop) matrix in double exactly like this before sampling.
static inline void invert_affine(const double m[6], double inv[6]) {
    double M[6] = {m[0], m[1], m[2], m[3], m[4], m[5]};
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0. ? 1. / D : 0.;
    const double A11 = M[4] * D, A22 = M[0] * D;
    M[0] = A11;
    M[1] *= -D;
    M[3] *= -D;
    M[4] = A22;
    const double b1 = -M[0] * M[2] - M[1] * M[5];
    const double b2 = -M[3] * M[2] - M[4] * M[5];
    M[2] = b1;
    M[5] = b2;
    for (int i = 0; i < 6; ++i) inv[i] = M[i];
}

// The kernel, once at the baseline ISA (on aarch64 fmaf is an instruction there)...
#define EF_NS warp_baseline
#define EF_TARGET
#if defined(__FMA__) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
#define EF_HW_FMA 1
#else
#define EF_HW_FMA 0
#endif
#include "warp_kernel.inc"
#undef EF_NS
#undef EF_TARGET
#undef EF_HW_FMA

// ...and on x86-64 once more for AVX2 + FMA, chosen at run time (cpu.hpp); both copies produce identical bytes.
#if EF_X86_DISPATCH
#define EF_NS warp_avx2
#define EF_TARGET __attribute__((target("avx2,fma")))
#define EF_HW_FMA 1
#include "warp_kernel.inc"
#undef EF_NS
#undef EF_TARGET
#undef EF_HW_FMA
#endif

// The crop of size W x H defined by the forward matrix `m` (as given to cv2.warpAffine), into every target.
static void warp_affine(const Frame& f, const double m[6], index_t W, index_t H, const std::vector<Target>& targets) {
    double inv[6];
    invert_affine(m, inv);
    float im[6];
    for (int i = 0; i < 6; ++i) im[i] = static_cast<float>(inv[i]);
#if EF_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        warp_avx2::warp_affine(f, im, W, H, targets);
        return;
    }
#endif
    warp_baseline::warp_affine(f, im, W, H, targets);
}

// ---------------------------------------------------------------------------------------------------------------
// Letterbox: resize to (sw, sh), top-left in a (target.w x target.h) canvas, the rest black.
// Work rows are planar: index k * sw + dx for channel k (B, G, R).

static void letterbox_copy(const Frame& f, const Target& t) {
    Planes out(f.w);
    for (index_t y = 0; y < f.h; ++y) {
        const uint8_t* p = f.at(y, 0);
        for (index_t x = 0; x < f.w; ++x, p += f.pix) {
            out.p[0][x] = p[f.off[0]];
            out.p[1][x] = p[f.off[1]];
            out.p[2][x] = p[f.off[2]];
        }
        emit_row(t, out.p, y, f.w);
    }
}

// cv::resize INTER_LINEAR, 8-bit: INTER_RESIZE_COEF_BITS = 11, weights rounded from float.
static void letterbox_linear(const Frame& f, index_t sw, index_t sh, const Target& t) {
    const double scale_x = 1. / (static_cast<double>(sw) / f.w);
    const double scale_y = 1. / (static_cast<double>(sh) / f.h);
    std::vector<index_t> x0(sw), x1(sw);
    std::vector<int32_t> a0(sw), a1(sw);
    for (index_t dx = 0; dx < sw; ++dx) {
        float fx = static_cast<float>((dx + 0.5) * scale_x - 0.5);
        index_t sx = static_cast<index_t>(std::floor(fx));
        fx -= static_cast<float>(sx);
        if (sx < 0) { fx = 0.f; sx = 0; }
        if (sx >= f.w - 1) { fx = 0.f; sx = f.w - 1; }
        x0[dx] = sx * f.pix;
        x1[dx] = std::min(sx + 1, f.w - 1) * f.pix;
        a0[dx] = static_cast<int32_t>(std::lrintf((1.f - fx) * 2048.f));
        a1[dx] = static_cast<int32_t>(std::lrintf(fx * 2048.f));
    }
    const index_t n = sw * 3;
    std::vector<int32_t> rows[2] = {std::vector<int32_t>(n), std::vector<int32_t>(n)};
    index_t cached[2] = {-1, -1};
    // horizontal pass of source row sy (the two most recent rows are kept; rows only move down)
    auto hrow = [&](index_t sy, index_t keep) -> const int32_t* {
        for (int i = 0; i < 2; ++i) if (cached[i] == sy) return rows[i].data();
        const int slot = cached[0] == keep ? 1 : 0;
        int32_t* d = rows[slot].data();
        const uint8_t* base = f.at(sy, 0);
        for (int k = 0; k < 3; ++k) {
            const uint8_t* b = base + f.off[k];
            int32_t* dk = d + k * sw;
            for (index_t dx = 0; dx < sw; ++dx) dk[dx] = b[x0[dx]] * a0[dx] + b[x1[dx]] * a1[dx];
        }
        cached[slot] = sy;
        return d;
    };
    Planes out(sw);
    for (index_t dy = 0; dy < sh; ++dy) {
        float fy = static_cast<float>((dy + 0.5) * scale_y - 0.5);
        const index_t sy = static_cast<index_t>(std::floor(fy));
        fy -= static_cast<float>(sy);
        const int32_t b0 = static_cast<int32_t>(std::lrintf((1.f - fy) * 2048.f));
        const int32_t b1 = static_cast<int32_t>(std::lrintf(fy * 2048.f));
        const index_t r0 = std::clamp<index_t>(sy, 0, f.h - 1), r1 = std::clamp<index_t>(sy + 1, 0, f.h - 1);
        const int32_t* S0 = hrow(r0, -2);
        const int32_t* S1 = hrow(r1, r0);
        for (int k = 0; k < 3; ++k) {
            uint8_t* o = out.p[k];
            const int32_t* s0 = S0 + k * sw;
            const int32_t* s1 = S1 + k * sw;
            for (index_t dx = 0; dx < sw; ++dx) {
                const int32_t v = (((b0 * (s0[dx] >> 4)) >> 16) + ((b1 * (s1[dx] >> 4)) >> 16) + 2) >> 2;
                o[dx] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
            }
        }
        emit_row(t, out.p, dy, sw);
    }
}

// cv::resize INTER_AREA with whole-number factors (resizeAreaFast_): 2x2 is (sum + 2) >> 2, other factors
// round(sum * (1.f / area)).
static void letterbox_area_fast(const Frame& f, index_t sw, index_t sh, int kx, int ky, const Target& t) {
    std::vector<int32_t> sum(static_cast<size_t>(3 * sw));  // interleaved B, G, R
    Planes out(sw);
    const float inv_area = 1.f / static_cast<float>(kx * ky);
    const bool two = kx == 2 && ky == 2;
    const index_t o0 = f.off[0], o1 = f.off[1], o2 = f.off[2];
    for (index_t dy = 0; dy < sh; ++dy) {
        std::fill(sum.begin(), sum.end(), 0);
        for (int j = 0; j < ky; ++j) {
            const uint8_t* p = f.at(dy * ky + j, 0);
            int32_t* s = sum.data();
            if (kx == 2) {
                for (index_t dx = 0; dx < sw; ++dx, p += 2 * f.pix, s += 3) {
                    const uint8_t* q = p + f.pix;
                    s[0] += p[o0] + q[o0];
                    s[1] += p[o1] + q[o1];
                    s[2] += p[o2] + q[o2];
                }
            } else {
                for (index_t dx = 0; dx < sw; ++dx, s += 3) {
                    int32_t b = 0, g = 0, r = 0;
                    for (int i = 0; i < kx; ++i, p += f.pix) {
                        b += p[o0];
                        g += p[o1];
                        r += p[o2];
                    }
                    s[0] += b;
                    s[1] += g;
                    s[2] += r;
                }
            }
        }
        const int32_t* s = sum.data();
        if (two) {
            for (index_t dx = 0; dx < sw; ++dx)
                for (int k = 0; k < 3; ++k) out.p[k][dx] = static_cast<uint8_t>((s[dx * 3 + k] + 2) >> 2);
        } else {
            for (index_t dx = 0; dx < sw; ++dx)
                for (int k = 0; k < 3; ++k) out.p[k][dx] = round_u8(static_cast<float>(s[dx * 3 + k]) * inv_area);
        }
        emit_row(t, out.p, dy, sw);
    }
}

struct AreaTap {
    index_t d, s;
    float alpha;
};

// computeResizeAreaTab of resize.cpp.
static std::vector<AreaTap> area_tab(index_t ssize, index_t dsize, double scale) {
    std::vector<AreaTap> tab;
    tab.reserve(static_cast<size_t>(ssize) * 2);
    for (index_t dx = 0; dx < dsize; ++dx) {
        const double fsx1 = dx * scale;
        const double fsx2 = fsx1 + scale;
        const double cell = std::min(scale, ssize - fsx1);
        index_t sx1 = static_cast<index_t>(std::ceil(fsx1)), sx2 = static_cast<index_t>(std::floor(fsx2));
        sx2 = std::min(sx2, ssize - 1);
        sx1 = std::min(sx1, sx2);
        if (sx1 - fsx1 > 1e-3) tab.push_back({dx, sx1 - 1, static_cast<float>((sx1 - fsx1) / cell)});
        for (index_t sx = sx1; sx < sx2; ++sx) tab.push_back({dx, sx, static_cast<float>(1.0 / cell)});
        if (fsx2 - sx2 > 1e-3) {
            tab.push_back({dx, sx2, static_cast<float>(std::min(std::min(fsx2 - sx2, 1.), cell) / cell)});
        }
    }
    return tab;
}

// Four floats: one pixel's B, G, R and an unused lane. GCC/Clang vector arithmetic is lane-wise IEEE single
// precision (SSE on x86-64, NEON on aarch64; no contraction under -ffp-contract=off), so each lane computes what
// the scalar code would, in the same order.
typedef float float4 __attribute__((vector_size(16)));

// cv::resize INTER_AREA, any factor >= 1 (ResizeArea_Invoker): float32 sums in OpenCV's order. A source row is
// converted to floats once (in one vectorised run for packed BGR); each destination column then sums its taps in
// a register, one 4-lane multiply-add per tap for the three channels at once, where the scalar version converted
// and stored three floats per tap (the quick path's closer look, 560x480 -> 320x274: 1.0 -> 0.7 ms on x86-64).
static void letterbox_area(const Frame& f, index_t sw, index_t sh, const Target& t) {
    const double scale_x = 1. / (static_cast<double>(sw) / f.w);
    const double scale_y = 1. / (static_cast<double>(sh) / f.h);
    const std::vector<AreaTap> xtab = area_tab(f.w, sw, scale_x);
    const std::vector<AreaTap> ytab = area_tab(f.h, sh, scale_y);
    // the taps of destination column dx: xtab[span[dx]] .. xtab[span[dx + 1] - 1] (area_tab emits them in order)
    std::vector<size_t> span(static_cast<size_t>(sw) + 1, 0);
    for (const AreaTap& a : xtab) ++span[static_cast<size_t>(a.d) + 1];
    for (index_t dx = 0; dx < sw; ++dx) span[dx + 1] += span[dx];
    std::vector<float4> buf(static_cast<size_t>(sw)), sum(static_cast<size_t>(sw));
    const index_t o0 = f.off[0], o1 = f.off[1], o2 = f.off[2];
    // the source row as floats, B, G, R interleaved, plus one float so that a 4-lane read at the last pixel stays
    // inside (its 4th lane, the next pixel's B, is never used)
    std::vector<float> src(static_cast<size_t>(f.w) * 3 + 1, 0.f);
    const bool packed = f.pix == 3 && o0 == 0 && o1 == 1 && o2 == 2;  // BGR as decoded: one contiguous run
    Planes out(sw);
    index_t buf_row = -1;
    size_t j = 0;
    for (index_t dy = 0; dy < sh; ++dy) {
        bool first = true;
        for (; j < ytab.size() && ytab[j].d == dy; ++j) {
            const index_t sy = ytab[j].s;
            const float beta = ytab[j].alpha;
            if (sy != buf_row) {  // horizontal pass of source row sy
                const uint8_t* p = f.at(sy, 0);
                float* d = src.data();
                if (packed) {
                    for (index_t i = 0; i < 3 * f.w; ++i) d[i] = static_cast<float>(p[i]);  // vectorised
                } else {
                    for (index_t x = 0; x < f.w; ++x, p += f.pix, d += 3) {
                        d[0] = static_cast<float>(p[o0]);
                        d[1] = static_cast<float>(p[o1]);
                        d[2] = static_cast<float>(p[o2]);
                    }
                }
                for (index_t dx = 0; dx < sw; ++dx) {  // each column's sum in a register, from 0, in tap order
                    float4 acc = {0.f, 0.f, 0.f, 0.f};
                    for (size_t k = span[dx]; k < span[dx + 1]; ++k) {
                        float4 v;
                        std::memcpy(&v, src.data() + 3 * xtab[k].s, sizeof v);
                        acc = acc + v * xtab[k].alpha;
                    }
                    buf[dx] = acc;
                }
                buf_row = sy;
            }
            if (first) {
                for (index_t i = 0; i < sw; ++i) sum[i] = beta * buf[i];
                first = false;
            } else {
                for (index_t i = 0; i < sw; ++i) sum[i] = sum[i] + beta * buf[i];
            }
        }
        for (index_t dx = 0; dx < sw; ++dx)
            for (int k = 0; k < 3; ++k) out.p[k][dx] = round_u8(sum[dx][k]);
        emit_row(t, out.p, dy, sw);
    }
}

enum class Resize { Copy = 0, Linear = 1, Area = 2 };

// The detector input: the frame resized to (sw, sh) with cv2's kernel for `mode`, top-left in the target's
// canvas; rows and columns beyond it black.
static void letterbox(const Frame& f, index_t sw, index_t sh, Resize mode, const Target& t) {
    if (sw > t.w || sh > t.h || sw < 1 || sh < 1) throw std::invalid_argument("letterbox: resized size exceeds the canvas");
    if (mode == Resize::Copy) {
        if (sw != f.w || sh != f.h) throw std::invalid_argument("letterbox: copy needs the frame's own size");
        letterbox_copy(f, t);
    } else if (mode == Resize::Linear) {
        letterbox_linear(f, sw, sh, t);
    } else {
        const double scale_x = 1. / (static_cast<double>(sw) / f.w);
        const double scale_y = 1. / (static_cast<double>(sh) / f.h);
        if (scale_x < 1. || scale_y < 1.) throw std::invalid_argument("letterbox: INTER_AREA here only shrinks");
        const int kx = static_cast<int>(std::lrint(scale_x)), ky = static_cast<int>(std::lrint(scale_y));
        const double eps = 2.220446049250313e-16;  // DBL_EPSILON, as resize.cpp
        if (std::abs(scale_x - kx) < eps && std::abs(scale_y - ky) < eps) {
            letterbox_area_fast(f, sw, sh, kx, ky, t);
        } else {
            letterbox_area(f, sw, sh, t);
        }
    }
    if (sh < t.h) {  // bottom padding
        Planes black(t.w);
        for (index_t y = sh; y < t.h; ++y) emit_row(t, black.p, y, 0);
    }
}

}  // namespace edge_face
