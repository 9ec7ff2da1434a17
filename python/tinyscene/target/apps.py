"""Firmware apps: which C sources make each app. An app's entry is `ts_app_main` in
firmware/src/rt/app_<name>.c; source groups add the runtime (rt), front-end (fe) and int8 kernels (nn)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyscene.errors import TsError
from tinyscene.paths import FIRMWARE_DIR


@dataclass(frozen=True)
class App:
    name: str
    description: str
    groups: tuple[str, ...] = ("rt",)

    @property
    def main_source(self) -> Path:
        return FIRMWARE_DIR / "src" / "rt" / f"app_{self.name}.c"


APPS: dict[str, App] = {
    "selftest": App("selftest", "semihosting file I/O, tick counter, stack painting, deliberate fault"),
    "model": App("model", "runs a generated int8 model (tinyscene compile) on inputs from a file", ("rt", "nn")),
    "model_stream": App("model_stream", "runs a streamed model (tinyscene compile --stream) on clips from a file, "
                        "row by row", ("rt", "nn")),
    "features": App("features", "the fixed-point front-end, streaming: PCM file in, int8 features and log-mel out "
                    "(tinyscene features --impl device)", ("rt", "fe")),
    "classifier": App("classifier", "the whole classifier of a bundle: PCM in over the protocol, front-end, int8 "
                      "model, class and logits out (tinyscene parity / flash)", ("rt", "fe", "nn")),
}


def get_app(name: str) -> App:
    if name not in APPS:
        raise TsError(f"unknown app '{name}' (known: {', '.join(sorted(APPS))})")
    return APPS[name]


# Each kernel family overlays folders of same-named kernels on the reference ones, in order
# (Cortex-M55 has the DSP extension too, so Helium kernels overlay the Armv7E-M ones).
KERNEL_OVERLAYS: dict[str, tuple[str, ...]] = {
    "reference": (),
    "armv7em": ("armv7em",),
    "mve": ("armv7em", "mve"),
}


def _without_overridden(base: list[Path], overrides: list[Path]) -> list[Path]:
    names = {p.name for p in overrides}
    return [p for p in base if p.name not in names] + overrides


def group_sources(group: str, kernel_family: str = "reference") -> list[Path]:
    """C sources of a group. For `nn` and `fe`, an optimized family (armv7em, mve) replaces the same-named
    reference kernels / portable stages with its own files (TFLM's reference + same-named override pattern)."""
    src = FIRMWARE_DIR / "src"
    if group == "rt":
        return sorted((src / "rt").glob("ts_*.c"))
    if group in ("fe", "nn"):
        sources = sorted((src / group).glob("*.c"))
        for family in KERNEL_OVERLAYS[kernel_family]:
            sources = _without_overridden(sources, sorted((src / group / family).glob("*.c")))
        return sources
    raise TsError(f"unknown source group '{group}'")
