// Native core of edge_face: the per-pixel and per-vector work (preprocessing, scoring).
// The reference is edge_face/native/reference.py (OpenCV + NumPy); tests/test_native*.py hold the two equal.
// Every routine checks its arguments with the GIL held, then releases it for the work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "preprocess.hpp"
#include "scoring.hpp"

namespace py = pybind11;
using edge_face::index_t;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

// A (H, W, C) uint8 array with C in {3, 4} and any strides; `bgr` = index of B, G, R among the C channels.
edge_face::Frame frame_of(const py::array& a, const std::vector<int>& bgr) {
    if (!py::isinstance<py::array_t<uint8_t>>(a) || a.ndim() != 3 || (a.shape(2) != 3 && a.shape(2) != 4)) {
        throw std::invalid_argument("frame must be a uint8 array of shape (H, W, 3) or (H, W, 4)");
    }
    if (bgr.size() != 3) throw std::invalid_argument("bgr must hold the indices of B, G and R");
    edge_face::Frame f;
    f.data = static_cast<const uint8_t*>(a.data());
    f.h = a.shape(0);
    f.w = a.shape(1);
    f.row = a.strides(0);
    f.pix = a.strides(1);
    for (int k = 0; k < 3; ++k) {
        if (bgr[k] < 0 || bgr[k] >= a.shape(2)) throw std::invalid_argument("bgr index out of range");
        f.off[k] = bgr[k] * a.strides(2);
    }
    if (f.h < 1 || f.w < 1) throw std::invalid_argument("frame is empty");
    f.plan_word_reads(a.strides(2), a.shape(2));
    return f;
}

// A model input tensor to fill: out (N, H, W, 3) or (N, 3, H, W) C-contiguous float32/int8/uint8, its
// (3, 256) table of the same dtype, the B/G/R index of each output channel, the batch slot and mirror slot.
edge_face::Target target_of(py::array out, const py::array& lut, const std::vector<int>& src, bool nchw,
                            index_t slot, index_t mirror) {
    edge_face::Target t;
    if (!(out.flags() & py::array::c_style) || !out.writeable() || out.ndim() != 4) {
        throw std::invalid_argument("out must be a writeable C-contiguous 4-d array");
    }
    if (!(lut.flags() & py::array::c_style) || lut.ndim() != 2 || lut.shape(0) != 3 || lut.shape(1) != 256) {
        throw std::invalid_argument("lut must be a C-contiguous (3, 256) array");
    }
    if (!out.dtype().is(lut.dtype())) throw std::invalid_argument("out and lut must have the same dtype");
    if (out.dtype().is(py::dtype::of<float>())) t.dtype = edge_face::DType::F32;
    else if (out.dtype().is(py::dtype::of<int8_t>())) t.dtype = edge_face::DType::I8;
    else if (out.dtype().is(py::dtype::of<uint8_t>())) t.dtype = edge_face::DType::U8;
    else throw std::invalid_argument("out must be float32, int8 or uint8");
    const index_t c = nchw ? out.shape(1) : out.shape(3);
    if (c != 3) throw std::invalid_argument("out must have 3 channels");
    t.h = nchw ? out.shape(2) : out.shape(1);
    t.w = nchw ? out.shape(3) : out.shape(2);
    t.nchw = nchw;
    if (slot < 0 || slot >= out.shape(0) || mirror >= out.shape(0) || mirror == slot) {
        throw std::invalid_argument("slot / mirror outside the batch");
    }
    t.slot = slot;
    t.mirror = mirror < 0 ? -1 : mirror;
    if (src.size() != 3) throw std::invalid_argument("src must hold 3 channel indices");
    for (int k = 0; k < 3; ++k) {
        if (src[k] < 0 || src[k] > 2) throw std::invalid_argument("src indices must be 0 (B), 1 (G) or 2 (R)");
        t.src[k] = src[k];
    }
    t.out = out.mutable_data();
    t.lut = lut.data();
    return t;
}

py::array_t<float> cosine_matrix(FloatArray a, FloatArray b) {
    if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(1)) {
        throw std::invalid_argument("cosine_matrix expects (N, D) and (M, D) arrays with the same D");
    }
    const index_t n = a.shape(0), m = b.shape(0), d = a.shape(1);
    py::array_t<float> out({n, m});
    const float *pa = a.data(), *pb = b.data();
    float* po = out.mutable_data();
    {
        py::gil_scoped_release release;
        edge_face::cosine_matrix(pa, pb, n, m, d, po);
    }
    return out;
}

py::array_t<double> interp(DoubleArray x, DoubleArray xp, DoubleArray fp) {
    if (xp.ndim() != 1 || fp.ndim() != 1 || xp.shape(0) != fp.shape(0) || xp.shape(0) < 2) {
        throw std::invalid_argument("interp expects xp and fp of the same length >= 2");
    }
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
    py::array_t<double> out(shape);
    const double *px = x.data(), *pxp = xp.data(), *pfp = fp.data();
    double* po = out.mutable_data();
    const index_t n = x.size(), k = xp.shape(0);
    {
        py::gil_scoped_release release;
        edge_face::interp(px, n, pxp, pfp, k, po);
    }
    return out;
}

// targets: list of (out, lut, src, nchw, slot, mirror)
using TargetSpec = std::tuple<py::array, py::array, std::vector<int>, bool, index_t, index_t>;

void warp_affine(const py::array& frame, const std::vector<int>& bgr, DoubleArray matrix, index_t width,
                 index_t height, const std::vector<TargetSpec>& targets) {
    const edge_face::Frame f = frame_of(frame, bgr);
    if (matrix.ndim() != 2 || matrix.shape(0) != 2 || matrix.shape(1) != 3) {
        throw std::invalid_argument("matrix must be 2 x 3");
    }
    if (width < 1 || height < 1) throw std::invalid_argument("crop size must be positive");
    std::vector<edge_face::Target> ts;
    for (const auto& s : targets) {
        edge_face::Target t = target_of(std::get<0>(s), std::get<1>(s), std::get<2>(s), std::get<3>(s),
                                        std::get<4>(s), std::get<5>(s));
        if (t.h != height || t.w != width) throw std::invalid_argument("every target must have the crop's size");
        ts.push_back(t);
    }
    double m[6];
    for (int i = 0; i < 6; ++i) m[i] = matrix.data()[i];
    py::gil_scoped_release release;
    edge_face::warp_affine(f, m, width, height, ts);
}

void letterbox(const py::array& frame, const std::vector<int>& bgr, index_t width, index_t height, int mode,
               const TargetSpec& target) {
    const edge_face::Frame f = frame_of(frame, bgr);
    const edge_face::Target t = target_of(std::get<0>(target), std::get<1>(target), std::get<2>(target),
                                          std::get<3>(target), std::get<4>(target), std::get<5>(target));
    if (mode < 0 || mode > 2) throw std::invalid_argument("mode must be 0 (copy), 1 (linear) or 2 (area)");
    py::gil_scoped_release release;
    edge_face::letterbox(f, width, height, static_cast<edge_face::Resize>(mode), t);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "edge_face native core: fused preprocessing and scoring (reference: edge_face.native.reference)";
    m.def("cosine_matrix", &cosine_matrix, py::arg("a"), py::arg("b"),
          "Cosine similarity matrix of (N, D) and (M, D) float32 embeddings.");
    m.def("interp", &interp, py::arg("x"), py::arg("xp"), py::arg("fp"),
          "numpy.interp(x, xp, fp) for increasing xp (the calibrated-score map), float64.");
    m.def("warp_affine", &warp_affine, py::arg("frame"), py::arg("bgr"), py::arg("matrix"), py::arg("width"),
          py::arg("height"), py::arg("targets"),
          "cv2.warpAffine(frame, matrix, (width, height)) INTER_LINEAR/BORDER_CONSTANT 0, normalised into each "
          "target (out, lut, src, nchw, slot, mirror) in one pass.");
    m.def("letterbox", &letterbox, py::arg("frame"), py::arg("bgr"), py::arg("width"), py::arg("height"),
          py::arg("mode"), py::arg("target"),
          "cv2.resize(frame, (width, height)) (mode 0 copy, 1 INTER_LINEAR, 2 INTER_AREA) at the top left of the "
          "target's canvas, black elsewhere, normalised into the target.");
    m.def("kernel_isa", [] { return std::string(edge_face::kernel_isa()); },
          "Which copy of the dispatched kernels runs: baseline, x86-64+avx2+fma or aarch64.");
    m.def("force_baseline", [](bool on) { edge_face::force_baseline().store(on); }, py::arg("on"),
          "Run the baseline kernels even where AVX2 + FMA exist (for tests; results must not change).");
    m.attr("VERSION") = 2;
}
