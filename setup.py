"""Builds the native core (edge_face._native) with the system compiler during `pip install`.

Flags stay portable (no -march=native): the same sdist builds on x86-64 and aarch64 devices.
"""
from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

ext_modules = [
    Pybind11Extension(
        "edge_face._native",
        ["native/edge_face_native.cpp"],
        cxx_std=17,
        extra_compile_args=["-O3"],
    ),
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
