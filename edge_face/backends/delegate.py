"""External TFLite delegates (NPUs) loaded from configuration, with errors that say what to do."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path

from edge_face.backends.delegates import KNOWN, DelegateSpec
from edge_face.backends.litert import Interpreter, load_delegate


class DelegateError(RuntimeError):
    """The delegate could not be loaded or refused the model; the message names the fix."""


@dataclass
class DelegateBackend:
    spec: DelegateSpec
    library: str = ""  # overrides spec.library (an absolute path on devices with a non-standard layout)
    options: dict[str, str] = field(default_factory=dict)
    threads: int = 2  # for the ops the delegate leaves on the CPU
    _delegate: object = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"delegate-{self.spec.name}"

    def _load(self):
        if self._delegate is None:
            library = self.library or self.spec.library
            options = {**self.spec.options, **self.options}
            if "/" in library and not Path(library).exists():
                raise DelegateError(f"{self.spec.name}: delegate library {library} does not exist. "
                                    f"{self.spec.install_hint}")
            try:
                _check_plugin_symbols(library)
                self._delegate = load_delegate(library, options)
            except (OSError, ValueError, RuntimeError, AttributeError) as exc:
                raise DelegateError(
                    f"{self.spec.name}: cannot load delegate {library} with options {options}: {exc}. "
                    f"{self.spec.install_hint}. Needs {self.spec.model_requirement}. "
                    "To run on the CPU instead, set backend.kind = \"cpu\" (or backend.fallback_to_cpu = true)."
                ) from None
        return self._delegate

    def interpreter(self, model_path: Path) -> Interpreter:
        delegate = self._load()
        try:
            return Interpreter(model_path=str(model_path), experimental_delegates=[delegate],
                               num_threads=self.threads)
        except (RuntimeError, ValueError) as exc:
            raise DelegateError(f"{self.spec.name}: the delegate refused {Path(model_path).name}: {exc}. "
                                f"Needs {self.spec.model_requirement}.") from None


def _check_plugin_symbols(library: str) -> None:
    """LiteRT's loader fails late (and noisily, in a destructor) on a library that is not a delegate plug-in."""
    lib = ctypes.CDLL(library)
    for symbol in ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate"):
        if not hasattr(lib, symbol):
            raise ValueError(f"{library} is not a TFLite delegate plug-in (it has no {symbol})")


def make_delegate_backend(kind: str, library: str, options: dict[str, str], threads: int) -> DelegateBackend:
    """`kind` is a known accelerator, or "delegate" for any other library given by path."""
    if kind == "delegate":
        if not library:
            raise DelegateError("backend.kind = \"delegate\" needs backend.library (path of the delegate .so)")
        spec = DelegateSpec(name=Path(library).name, library=library,
                            install_hint="check the library path and that it is built for this LiteRT version")
    elif kind in KNOWN:
        spec = KNOWN[kind]
    else:
        raise DelegateError(f"unknown backend {kind!r}: use cpu, delegate or one of {', '.join(sorted(KNOWN))}")
    return DelegateBackend(spec=spec, library=library, options=dict(options), threads=threads)
