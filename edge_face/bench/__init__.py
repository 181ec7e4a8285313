"""Benchmarks behind `edge-face bench`: each takes a data folder of a documented layout and prints JSON."""
