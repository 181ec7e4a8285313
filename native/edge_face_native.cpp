// Native core of edge_face: the per-vector work of scoring.
// The NumPy reference lives in edge_face/native/reference.py; tests hold the two equal.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Cosine similarity of every row of a (N x D) with every row of b (M x D): an N x M matrix.
static py::array_t<float> cosine_matrix(FloatArray a, FloatArray b) {
    if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(1)) {
        throw std::invalid_argument("cosine_matrix expects (N, D) and (M, D) arrays with the same D");
    }
    const py::ssize_t n = a.shape(0), m = b.shape(0), d = a.shape(1);
    py::array_t<float> out({n, m});
    const float *pa = a.data(), *pb = b.data();
    float *po = out.mutable_data();
    {
        py::gil_scoped_release release;
        std::vector<float> nb(static_cast<size_t>(m));
        for (py::ssize_t j = 0; j < m; ++j) {
            double s = 0.0;
            for (py::ssize_t k = 0; k < d; ++k) s += double(pb[j * d + k]) * pb[j * d + k];
            nb[j] = s > 0.0 ? float(1.0 / std::sqrt(s)) : 0.0f;
        }
        for (py::ssize_t i = 0; i < n; ++i) {
            const float *ra = pa + i * d;
            double s = 0.0;
            for (py::ssize_t k = 0; k < d; ++k) s += double(ra[k]) * ra[k];
            const float na = s > 0.0 ? float(1.0 / std::sqrt(s)) : 0.0f;
            for (py::ssize_t j = 0; j < m; ++j) {
                const float *rb = pb + j * d;
                float dot = 0.0f;
                for (py::ssize_t k = 0; k < d; ++k) dot += ra[k] * rb[k];
                po[i * m + j] = dot * na * nb[j];
            }
        }
    }
    return out;
}

PYBIND11_MODULE(_native, m) {
    m.doc() = "edge_face native core (scoring)";
    m.def("cosine_matrix", &cosine_matrix, py::arg("a"), py::arg("b"),
          "Cosine similarity matrix of (N, D) and (M, D) float32 embeddings.");
}
