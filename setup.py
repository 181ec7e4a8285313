"""Builds the native core (edge_face._native) with the system compiler during `pip install`.

Flags stay portable (no -march=native): the same sdist builds on x86-64 and aarch64 devices, and the loops
vectorise at each architecture's baseline (SSE2 / NEON). -ffp-contract=off keeps every float rounding where the
code puts it: the preprocessing kernels restate OpenCV's arithmetic bit for bit (native/preprocess.hpp).
"""
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

ext_modules = [
    Pybind11Extension(
        "edge_face._native",
        ["native/edge_face_native.cpp"],
        depends=sorted(glob("native/*.hpp") + glob("native/*.inc")),
        include_dirs=["native"],
        cxx_std=17,
        extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"],
    ),
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
