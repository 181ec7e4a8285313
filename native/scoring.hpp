// Scoring: the N x M cosine matrix of two sets of embeddings, and the calibrated-score map.
//
// The matrix is computed as register-blocked outer products: `b` packed once into panels of 16 columns, then
// 2 (baseline SSE2 / NEON) or 4 (AVX2 copy, chosen at run time) rows of `a` against a panel, accumulated in
// vector registers (GCC/Clang vector extensions, no intrinsics, no -march).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "cpu.hpp"

namespace edge_face {

using index_t = std::ptrdiff_t;

// 1 / |row| for each row (0 for a zero row): squares summed in 16 float partial sums (vectorised), then in
// double.
static inline void inverse_norms(const float* x, index_t n, index_t d, float* out) {
    for (index_t i = 0; i < n; ++i) {
        const float* r = x + i * d;
        float part[16] = {0};
        index_t k = 0;
        for (; k + 16 <= d; k += 16)
            for (int c = 0; c < 16; ++c) part[c] += r[k + c] * r[k + c];
        double s = 0.0;
        for (int c = 0; c < 16; ++c) s += part[c];
        for (; k < d; ++k) s += double(r[k]) * r[k];
        out[i] = s > 0.0 ? float(1.0 / std::sqrt(s)) : 0.0f;
    }
}

constexpr int kPanel = 16;  // columns of b per panel

#define EF_NS dots_baseline
#define EF_TARGET
#define EF_VBYTES 16
#define EF_ROWS 2
#include "scoring_kernel.inc"
#undef EF_NS
#undef EF_TARGET
#undef EF_VBYTES
#undef EF_ROWS

#if EF_X86_DISPATCH
#define EF_NS dots_avx2
#define EF_TARGET __attribute__((target("avx2,fma")))
#define EF_VBYTES 32
#define EF_ROWS 4
#include "scoring_kernel.inc"
#undef EF_NS
#undef EF_TARGET
#undef EF_VBYTES
#undef EF_ROWS
#endif

// out (n x m) = cos(a_i, b_j). a: n x d, b: m x d, row-major float32.
static void cosine_matrix(const float* a, const float* b, index_t n, index_t m, index_t d, float* out) {
    if (n == 0 || m == 0) return;
    std::vector<float> na(static_cast<size_t>(n)), nb(static_cast<size_t>(m));
    inverse_norms(a, n, d, na.data());
    inverse_norms(b, m, d, nb.data());
    const index_t blocks = (m + kPanel - 1) / kPanel;
    // b packed as [panel][k][16]: the 16 values a row of `a` meets at depth k are contiguous
    std::vector<float> panels(static_cast<size_t>(blocks * d * kPanel), 0.f);
    for (index_t j = 0; j < m; ++j) {
        float* dst = panels.data() + (j / kPanel) * d * kPanel + (j % kPanel);
        const float* src = b + j * d;
        for (index_t k = 0; k < d; ++k) dst[k * kPanel] = src[k];
    }
    const index_t ldo = blocks * kPanel;
    std::vector<float> dot(static_cast<size_t>(n * ldo));
#if EF_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        dots_avx2::dots(a, n, d, panels.data(), blocks, dot.data());
    } else {
        dots_baseline::dots(a, n, d, panels.data(), blocks, dot.data());
    }
#else
    dots_baseline::dots(a, n, d, panels.data(), blocks, dot.data());
#endif
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < m; ++j) out[i * m + j] = dot[i * ldo + j] * na[i] * nb[j];
}

// numpy.interp(x, xp, fp) for increasing xp, bit for bit (numpy/_core/src/multiarray/compiled_base.c):
// slope * (x - xp[j]) + fp[j] with slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]), fp[j] itself when x == xp[j],
// the end values outside. The interval is found by checking the previous one first, as numpy does.
static void interp(const double* x, index_t n, const double* xp, const double* fp, index_t k, double* out) {
    const double left = fp[0], right = fp[k - 1];
    std::vector<double> slopes(static_cast<size_t>(k - 1));
    for (index_t j = 0; j + 1 < k; ++j) slopes[j] = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    index_t j = 0;
    for (index_t i = 0; i < n; ++i) {
        const double v = x[i];
        if (std::isnan(v)) { out[i] = v; continue; }
        if (v > xp[k - 1]) { out[i] = right; continue; }
        if (v < xp[0]) { out[i] = left; continue; }
        if (v == xp[k - 1]) { out[i] = right; continue; }
        if (!(xp[j] <= v && v < xp[j + 1])) {  // the last j with xp[j] <= v
            j = static_cast<index_t>(std::upper_bound(xp, xp + k, v) - xp) - 1;
        }
        if (xp[j] == v) { out[i] = fp[j]; continue; }
        const double slope = slopes[j];
        double r = slope * (v - xp[j]) + fp[j];
        if (std::isnan(r)) {
            r = slope * (v - xp[j + 1]) + fp[j + 1];
            if (std::isnan(r) && fp[j] == fp[j + 1]) r = fp[j];
        }
        out[i] = r;
    }
}

}  // namespace edge_face
