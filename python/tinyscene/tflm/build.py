"""TensorFlow Lite Micro + CMSIS-NN compiled directly from the pinned sources (TFLM's own Makefile
downloads at build time), per CPU kind, cached by a hash of compiler, flags and sources.

One library folder per CPU kind (`cache_dir()/tflm/<kind>-<key>/`) holds

  core.a       TFLM's interpreter, allocator, planners, flatbuffer bridge, the shared TFLite files
               (`tensorflow/lite/{core,kernels}`, the schema utilities) and every kernel helper
               file of `kernels/` (the files that register no operator: *_common.cc, kernel_util ...)
  cmsis-nn.a   CMSIS-NN's integer sources (`Source/**/*.c`)
  fb-include/  flatbuffers' headers with TFLM's flatbuffers.patch applied
  kernels/     one object per operator kernel, compiled when a model first needs it:
               kernels/shared/<op>.o (kernels that have no CMSIS-NN version), kernels/ref/<op>.o
               (TFLM's reference kernel) and kernels/cmsis-nn/<op>.o (the same-named file of
               kernels/cmsis_nn/, TFLM's OPTIMIZED_KERNEL_DIR=cmsis_nn), so `tflm` and `tflm-ref`
               differ only in those objects.

Flags are TFLM's release_with_logs build: -DNDEBUG -DTF_LITE_STATIC_MEMORY, the core at -Os and
kernels and CMSIS-NN at -O2 (as TFLM's Makefile: CORE_OPTIMIZATION_LEVEL, KERNEL_OPTIMIZATION_LEVEL),
C++17 without RTTI or exceptions; CMSIS-NN picks its DSP (SMLAD) or Helium (MVE) paths from the
compiler's __ARM_FEATURE_DSP / __ARM_FEATURE_MVE, which the board's -mcpu sets. A batch of C++ files
shares a precompiled header of the common TFLM headers (same object code; about 3x faster), which
is deleted afterwards. A library is built in a temporary folder and renamed into place, so the
cache never holds a half-built one.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tinyscene.errors import TsError
from tinyscene.paths import cache_dir
from tinyscene.target.boards import Board
from tinyscene.thirdparty.fetch import load_lock, sources
from tinyscene.util.atomic import atomic_path
from tinyscene.util.lock import file_lock

RECIPE_VERSION = 1  # bump when what goes into a library changes

# TFLM's Makefile: COMMON_FLAGS + release_with_logs (-DNDEBUG) + OPTIMIZE_KERNELS_FOR default.
COMMON_FLAGS = ["-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-ffunction-sections",
                "-fdata-sections", "-fmessage-length=0", "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON",
                "-DNDEBUG", "-DKERNELS_OPTIMIZED_FOR_SPEED", "-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0"]
# cortex_m_generic_makefile.inc PLATFORM_FLAGS that change code.
ARM_FLAGS = ["-mlittle-endian", "-funsigned-char", "-fomit-frame-pointer"]
CXX_FLAGS = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"]
C_FLAGS = ["-std=c17"]
CORE_OPT = "-Os"
KERNEL_OPT = "-O2"

# What a firmware that links the libraries must compile its own TFLM-facing C++ with (struct layouts
# depend on TF_LITE_STATIC_MEMORY).
APP_DEFINES = ["-DTF_LITE_STATIC_MEMORY", "-DNDEBUG", "-DTF_LITE_DISABLE_X86_NEON"]

# kernels/*.cc that are test infrastructure, not runtime.
KERNEL_EXCLUDE = {"kernel_runner.cc", "conv_test_common.cc"}
CORE_EXCLUDE = {"test_helpers.cc", "test_helper_custom_ops.cc", "fake_micro_context.cc", "mock_micro_graph.cc",
                "recording_micro_allocator.cc"}

# The headers nearly every TFLM file includes: precompiled once per batch.
PCH_HEADERS = [
    "tensorflow/lite/schema/schema_generated.h",
    "tensorflow/lite/c/common.h",
    "tensorflow/lite/kernels/internal/common.h",
    "tensorflow/lite/kernels/internal/quantization_util.h",
    "tensorflow/lite/kernels/internal/tensor_ctypes.h",
    "tensorflow/lite/kernels/kernel_util.h",
    "tensorflow/lite/micro/kernels/kernel_util.h",
    "tensorflow/lite/micro/micro_log.h",
]
PCH_MIN_FILES = 6  # fewer C++ files than this: not worth a precompiled header

VARIANTS = ("cmsis-nn", "ref")  # tflm, tflm-ref


@dataclass(frozen=True)
class CpuKind:
    """A distinct set of code-generation flags: one library each."""

    arch: str  # armv7em-dsp | armv8.1m-mve | armv7m | armv8m | host
    cpu_flags: tuple[str, ...]
    has_dsp: bool
    has_mve: bool

    @property
    def is_host(self) -> bool:
        return self.arch == "host"

    @property
    def label(self) -> str:
        if self.is_host:
            return "host"
        parts = [self.arch] + [f.split("=", 1)[1] for f in self.cpu_flags if f.startswith(("-mcpu=", "-mfpu=",
                                                                                             "-mfloat-abi="))]
        return "_".join(parts)

    @property
    def cc(self) -> str:
        return "gcc" if self.is_host else "arm-none-eabi-gcc"

    @property
    def cxx(self) -> str:
        return "g++" if self.is_host else "arm-none-eabi-g++"

    @property
    def ar(self) -> str:
        return "ar" if self.is_host else "arm-none-eabi-ar"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise TsError(f"'{tool}' not found on PATH (run `make setup`)")
    return path


@functools.lru_cache(maxsize=None)
def _compiler_macros(cc: str, flags: tuple[str, ...]) -> dict[str, str]:
    _require(cc)
    r = subprocess.run([cc, *flags, "-dM", "-E", "-x", "c", os.devnull], capture_output=True, text=True)
    if r.returncode != 0:
        raise TsError(f"{cc} {' '.join(flags)}: the compiler refuses these CPU flags: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] == "#define":
            out[parts[1]] = parts[2] if len(parts) > 2 else ""
    return out


@functools.lru_cache(maxsize=None)
def _compiler_version(cc: str) -> str:
    _require(cc)
    r = subprocess.run([cc, "--version"], capture_output=True, text=True)
    return r.stdout.splitlines()[0] if r.stdout else cc


def cpu_kind(board: Board, kernels: str = "auto") -> CpuKind:
    """The CPU kind of `board`, checked against what the compiler makes of its flags.

    `kernels`: auto (whatever the CPU has), `mve`/`helium` (refused on a CPU without Helium),
    `dsp` (refused without the DSP extension).
    """
    if board.is_host:
        if kernels in ("mve", "helium", "dsp"):
            raise TsError(f"{board.name}: a {kernels} build needs an Arm CPU; the host build has no "
                          f"{'Helium' if kernels != 'dsp' else 'DSP extension'}")
        return CpuKind("host", (), False, False)
    flags = tuple(board.cpu_flags())
    macros = _compiler_macros("arm-none-eabi-gcc", flags)
    dsp = macros.get("__ARM_FEATURE_DSP") == "1"
    mve = int(macros.get("__ARM_FEATURE_MVE", "0") or 0) & 1 == 1
    if board.has_mve and not mve:
        raise TsError(f"{board.name}: board.yaml lists Helium (mve) but -mcpu={board.cpu} has no Helium "
                      f"(__ARM_FEATURE_MVE not set by {' '.join(flags)})")
    if kernels in ("mve", "helium") and not mve:
        raise TsError(f"{board.name}: a Helium (MVE) build was asked for, but {board.cpu} has no Helium")
    if kernels == "dsp" and not dsp:
        raise TsError(f"{board.name}: a DSP-extension build was asked for, but {board.cpu} has none")
    v8 = macros.get("__ARM_ARCH") == "8"
    arch = "armv8.1m-mve" if mve else ("armv8m" if v8 else "armv7em") + ("-dsp" if dsp else "")
    if arch == "armv7em-dsp":
        # Cortex-M4 and Cortex-M7 share one library, built for the common subset: Armv7E-M + DSP, and
        # FPv4-SP (M4F) whose hard-float ABI passes floats in the same VFP registers as the M7's FPv5.
        abi = board.float_abi
        flags = ("-mcpu=cortex-m4" + ("+nofp" if abi == "soft" else ""), "-mthumb", f"-mfloat-abi={abi}",
                 *(() if abi == "soft" else ("-mfpu=fpv4-sp-d16",)))
    return CpuKind(arch, flags, dsp, mve)


# --- sources ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTree:
    tflm: Path
    cmsis_nn: Path
    cmsis6: Path
    flatbuffers: Path
    gemmlowp: Path
    ruy: Path
    digests: tuple[tuple[str, str], ...]  # (name, tree_sha256) from the lock

    @property
    def micro(self) -> Path:
        return self.tflm / "tensorflow" / "lite" / "micro"

    @property
    def kernels_dir(self) -> Path:
        return self.micro / "kernels"


def source_tree() -> SourceTree:
    """The pinned sources, fetched (and verified) if they are not in the cache yet."""

    d = sources(["tflite-micro", "CMSIS-NN", "CMSIS_6", "flatbuffers", "gemmlowp", "ruy"])
    lock = load_lock()
    return SourceTree(tflm=d["tflite-micro"], cmsis_nn=d["CMSIS-NN"], cmsis6=d["CMSIS_6"],
                      flatbuffers=d["flatbuffers"], gemmlowp=d["gemmlowp"], ruy=d["ruy"],
                      digests=tuple(sorted((n, s.tree_sha256) for n, s in lock.items())))


def _is_test(p: Path) -> bool:
    return p.stem.endswith("_test")


def core_sources(t: SourceTree) -> list[Path]:
    """TFLM's MICROLITE_CC_BASE_SRCS without tests: micro/*.cc, arena_allocator/, memory_planner/,
    tflite_bridge/, and the TFLite files shared with TFLM (tensorflow/ outside micro/ and
    experimental/, without array.cc as TF_LITE_STATIC_MEMORY builds do)."""
    out = [p for p in sorted(t.micro.glob("*.cc")) if not _is_test(p) and p.name not in CORE_EXCLUDE]
    for sub in ("arena_allocator", "memory_planner", "tflite_bridge"):
        out += [p for p in sorted((t.micro / sub).glob("*.cc")) if not _is_test(p)]
    tf = t.tflm / "tensorflow"
    for p in sorted(tf.rglob("*")):
        if p.suffix not in (".cc", ".c") or _is_test(p):
            continue
        rel = p.relative_to(t.tflm).as_posix()
        if rel.startswith(("tensorflow/lite/micro/", "tensorflow/lite/experimental/")) or rel == "tensorflow/lite/array.cc":
            continue
        out.append(p)
    return out


_REGISTER_DEF = re.compile(r"^\s*(?:const\s+)?TFLMRegistration\s*\*?\s*(?:[\w:]+::)?Register_(\w+)\s*\(\s*\)\s*\{",
                           re.MULTILINE)


@functools.lru_cache(maxsize=8)
def kernel_files(kernels_dir: Path) -> tuple[dict[str, Path], list[Path]]:
    """({registration name: file defining Register_<name>()}, [helper files that register nothing])."""
    regs: dict[str, Path] = {}
    helpers = []
    for p in sorted(kernels_dir.glob("*.cc")):
        if _is_test(p) or p.name in KERNEL_EXCLUDE:
            continue
        names = _REGISTER_DEF.findall(p.read_text(errors="replace"))
        if not names:
            helpers.append(p)
        for n in names:
            regs.setdefault(n, p)
    return regs, helpers


def cmsis_nn_sources(t: SourceTree) -> list[Path]:
    """CMSIS-NN's Source/**/*.c, integer only (TFLM's cmsis_nn.inc with ARM_NN_ENABLE_F16/F32=0)."""
    out = []
    for p in sorted((t.cmsis_nn / "Source").rglob("*.c")):
        if p.name.endswith(("_f16.c", "_f32.c")) or p.name == "arm_nntables_flt.c":
            continue
        out.append(p)
    return out


# --- TFLM's flatbuffers.patch ----------------------------------------------------------------------


def apply_unified_patch(patch_text: str, root: Path) -> list[str]:
    """Apply a `git diff` style patch to the files under `root`: exact context, no fuzz, each hunk
    consumed by its header's line counts. Returns the patched paths; a hunk that does not match is
    an error naming the file and the line."""
    lines = patch_text.splitlines()
    patches: dict[str, list[tuple[int, list[str], list[str]]]] = {}
    path = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("+++ "):
            path = line[4:].strip()
            path = path[2:] if path.startswith("b/") else path
            patches.setdefault(path, [])
            i += 1
            continue
        m = re.match(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@", line)
        if m and path is not None:
            start, n_old = int(m.group(1)), int(m.group(2) or 1)
            n_new = int(m.group(3) or 1)
            old: list[str] = []
            new: list[str] = []
            i += 1
            while (len(old) < n_old or len(new) < n_new) and i < len(lines):
                ln = lines[i]
                tag, body = (ln[:1], ln[1:]) if ln else (" ", "")
                if tag in " -":
                    old.append(body)
                if tag in " +":
                    new.append(body)
                i += 1
            patches[path].append((start - 1, old, new))
            continue
        i += 1
    done = []
    for path, hunks in patches.items():
        target = root / path
        if not target.exists():
            raise TsError(f"patch: {path} is not in {root}")
        src = target.read_text().split("\n")
        out: list[str] = []
        pos = 0
        for start, old, new in hunks:
            at = start if start >= pos and src[start:start + len(old)] == old else -1
            if at < 0:
                raise TsError(f"patch: the hunk at line {start + 1} of {path} does not match {target}")
            out += src[pos:at] + new
            pos = at + len(old)
        out += src[pos:]
        target.write_text("\n".join(out))
        done.append(path)
    return done


def _patched_flatbuffers(t: SourceTree, dest: Path) -> None:
    """flatbuffers' include/flatbuffers/*.h with TFLM's flatbuffers.patch, as dest/flatbuffers/."""
    patch = t.micro / "tools" / "make" / "flatbuffers.patch"
    staged = dest.with_name(dest.name + ".stage")
    shutil.copytree(t.flatbuffers / "include" / "flatbuffers", staged / "include" / "flatbuffers")
    if not apply_unified_patch(patch.read_text(), staged):
        raise TsError(f"{patch}: patched no file")
    dest.mkdir(parents=True, exist_ok=True)
    os.replace(staged / "include" / "flatbuffers", dest / "flatbuffers")
    shutil.rmtree(staged)


# --- the library -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    kind: CpuKind
    dir: Path
    tree: SourceTree

    @property
    def core(self) -> Path:
        return self.dir / "core.a"

    @property
    def cmsis_nn(self) -> Path:
        return self.dir / "cmsis-nn.a"

    def include_dirs(self) -> list[Path]:
        """Include path of TFLM code (the app and the libraries), in TFLM's order."""
        t = self.tree
        return [self.dir / "fb-include", t.tflm, t.gemmlowp, t.ruy, t.cmsis6, t.cmsis_nn,
                t.cmsis6 / "CMSIS" / "Core" / "Include", t.cmsis_nn / "Include"]

    def app_cflags(self) -> list[str]:
        """Flags for a firmware source that includes TFLM headers and links these libraries."""
        return [*APP_DEFINES, *[f"-I{d}" for d in self.include_dirs()], f"-DTS_TFLM_LIBRARY={self.dir.name}"]

    def link_inputs(self) -> list[str]:
        return ["-Wl,--start-group", str(self.core), str(self.cmsis_nn), "-Wl,--end-group"]

    def kernel_sources(self, registrations: list[str], variant: str) -> list[tuple[Path, str]]:
        """(source, store folder) of the kernels registering `registrations` for `variant`."""
        if variant not in VARIANTS:
            raise TsError(f"TFLM kernel variant '{variant}': expected one of {', '.join(VARIANTS)}")
        regs, _ = kernel_files(self.tree.kernels_dir)
        out: dict[Path, str] = {}
        for r in registrations:
            f = regs.get(r)
            if f is None:
                raise TsError(f"TFLM has no kernel file defining Register_{r}()")
            opt = self.tree.kernels_dir / "cmsis_nn" / f.name
            if opt.exists():
                out[opt if variant == "cmsis-nn" else f] = variant
            else:
                out[f] = "shared"
        return sorted(out.items(), key=lambda kv: str(kv[0]))

    def kernel_object(self, src: Path, store: str) -> Path:
        return self.dir / "kernels" / store / (src.stem + ".o")

    def kernel_objects(self, registrations: list[str], variant: str, *, progress: bool = True) -> list[Path]:
        """Objects of the kernels that define `registrations` (compiled now if not in the store)."""
        wanted = self.kernel_sources(registrations, variant)
        missing = [(s, st) for s, st in wanted if not self.kernel_object(s, st).exists()]
        if missing:
            with file_lock(self.dir.parent / f".{self.dir.name}.lock"):
                missing = [(s, st) for s, st in missing if not self.kernel_object(s, st).exists()]
                if missing:
                    jobs = [(s, self.kernel_object(s, st), _kernel_flags(self.kind, st == "cmsis-nn"))
                            for s, st in missing]
                    _compile_batch(self.kind, jobs, self.include_dirs(), self.dir, KERNEL_OPT,
                                   desc=f"TFLM kernels [{self.kind.label}]", progress=progress)
        return [self.kernel_object(s, st) for s, st in wanted]


def _kernel_flags(kind: CpuKind, cmsis: bool) -> list[str]:
    return ["-DCMSIS_NN"] if cmsis else []


def _base_flags(kind: CpuKind) -> list[str]:
    return [*COMMON_FLAGS, *([] if kind.is_host else [*ARM_FLAGS, *kind.cpu_flags])]


def library_key(kind: CpuKind, tree: SourceTree) -> str:
    h = hashlib.sha256(json.dumps({
        "recipe": RECIPE_VERSION, "kind": kind.label, "cpu_flags": kind.cpu_flags,
        "cc": _compiler_version(kind.cc), "cxx": _compiler_version(kind.cxx),
        "flags": [COMMON_FLAGS, ARM_FLAGS, CXX_FLAGS, C_FLAGS, CORE_OPT, KERNEL_OPT, PCH_HEADERS],
        "sources": tree.digests,
    }, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _obj_name(t: SourceTree, src: Path) -> str:
    for root in (t.tflm, t.cmsis_nn):
        with contextlib.suppress(ValueError):
            return src.relative_to(root).as_posix().replace("/", "__").rsplit(".", 1)[0] + ".o"
    return src.stem + ".o"


def _compile_batch(kind: CpuKind, jobs: list[tuple[Path, Path, list[str]]], include_dirs: list[Path],
                   workdir: Path, opt: str, *, desc: str, progress: bool) -> None:
    """Compile (source, object, extra flags) jobs in parallel; objects appear atomically."""
    incs = [f"-I{d}" for d in include_dirs]
    base = [*_base_flags(kind), opt]
    cxx_jobs = [j for j in jobs if j[0].suffix == ".cc"]
    pch_flags: list[str] = []
    pch_dir = None
    if len(cxx_jobs) >= PCH_MIN_FILES and not os.environ.get("TS_TFLM_NO_PCH"):
        pch_dir = Path(tempfile.mkdtemp(prefix=".pch-", dir=workdir))
        header = pch_dir / "ts_tflm_pch.h"
        header.write_text("".join(f'#include "{h}"\n' for h in PCH_HEADERS))
        r = subprocess.run([kind.cxx, *base, *CXX_FLAGS, *incs, "-x", "c++-header", str(header), "-o",
                            str(header) + ".gch"], capture_output=True, text=True)
        if r.returncode == 0:
            pch_flags = ["-include", str(header), "-Winvalid-pch"]

    def one(job: tuple[Path, Path, list[str]]) -> None:
        src, obj, extra = job
        if src.suffix == ".cc":
            cmd = [kind.cxx, *base, *CXX_FLAGS, *extra, *incs, *pch_flags]
        else:
            cmd = [kind.cc, *base, *C_FLAGS, *extra, *incs]
        with atomic_path(obj) as tmp:
            r = subprocess.run([*cmd, "-c", str(src), "-o", str(tmp)], capture_output=True, text=True)
            if r.returncode != 0:
                tail = "\n".join(r.stderr.strip().splitlines()[-15:])
                raise TsError(f"compiling {src} for {kind.label} failed:\n{tail}")

    bar = None
    if progress:

        bar = tqdm(total=len(jobs), desc=desc, unit="file", leave=False, disable=None)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = [pool.submit(one, j) for j in jobs]
            for fut in concurrent.futures.as_completed(futures):
                fut.result()
                if bar:
                    bar.update(1)
    finally:
        if bar:
            bar.close()
        if pch_dir is not None:
            shutil.rmtree(pch_dir, ignore_errors=True)


def _archive(kind: CpuKind, lib: Path, objects: list[Path]) -> None:
    _require(kind.ar)
    r = subprocess.run([kind.ar, "rcs", str(lib), *map(str, objects)], capture_output=True, text=True)
    if r.returncode != 0:
        raise TsError(f"{kind.ar} {lib.name} failed: {r.stderr.strip()}")


def library_root() -> Path:
    return cache_dir() / "tflm"


def ensure_library(board: Board, *, kernels: str = "auto", progress: bool = True) -> Library:
    """The TFLM library of `board`'s CPU kind, built now if it is not in the cache."""
    kind = cpu_kind(board, kernels)
    _require(kind.cc)
    _require(kind.cxx)
    tree = source_tree()
    key = library_key(kind, tree)
    dest = library_root() / f"{kind.label}-{key}"
    lib = Library(kind, dest, tree)
    if (dest / "BUILD.json").exists():
        return lib
    with file_lock(library_root() / f".{dest.name}.lock"):
        if (dest / "BUILD.json").exists():
            return lib
        _build_base(lib, progress=progress)
    return lib


def _build_base(lib: Library, *, progress: bool) -> None:
    """core.a, cmsis-nn.a, the patched flatbuffers headers and the COMMON_REGISTRATIONS kernels of
    both variants, in a temporary folder renamed into place when all of it compiled."""
    kind, t, dest = lib.kind, lib.tree, lib.dir
    start = time.monotonic()
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):  # left by a build that was killed (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _patched_flatbuffers(t, tmp / "fb-include")
        staged = Library(kind, tmp, t)
        incs = staged.include_dirs()
        objdir = tmp / "obj"
        core = [(s, objdir / "core" / _obj_name(t, s), []) for s in core_sources(t)]
        _, helpers = kernel_files(t.kernels_dir)
        helper_jobs = [(s, objdir / "core" / _obj_name(t, s), []) for s in helpers]
        nn = [(s, objdir / "cmsis-nn" / _obj_name(t, s), []) for s in cmsis_nn_sources(t)]
        kernels = {}
        for variant in VARIANTS:
            for s, store in staged.kernel_sources(COMMON_REGISTRATIONS, variant):
                kernels[(s, store)] = (s, staged.kernel_object(s, store), _kernel_flags(kind, store == "cmsis-nn"))
        label = f"[{kind.label}]"
        # Two batches, one per optimisation level (TFLM: core -Os, kernels and CMSIS-NN -O2).
        _compile_batch(kind, core, incs, tmp, CORE_OPT, desc=f"TFLM core {label}", progress=progress)
        _compile_batch(kind, helper_jobs + list(kernels.values()) + nn, incs, tmp, KERNEL_OPT,
                       desc=f"TFLM kernels + CMSIS-NN {label}", progress=progress)
        _archive(kind, tmp / "core.a", [o for _, o, _ in core + helper_jobs])
        _archive(kind, tmp / "cmsis-nn.a", [o for _, o, _ in nn])
        shutil.rmtree(objdir)
        seconds = round(time.monotonic() - start, 1)
        (tmp / "BUILD.json").write_text(json.dumps({
            "kind": kind.label, "cpu_flags": kind.cpu_flags, "compiler": _compiler_version(kind.cxx),
            "flags": {"common": COMMON_FLAGS, "arm": [] if kind.is_host else ARM_FLAGS, "cxx": CXX_FLAGS,
                      "c": C_FLAGS, "core_opt": CORE_OPT, "kernel_opt": KERNEL_OPT},
            "sources": dict(t.digests),
            "files": {"core": len(core) + len(helper_jobs), "cmsis_nn": len(nn), "kernels": len(kernels)},
            "seconds": seconds,
        }, indent=2) + "\n")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# The operators a typical int8 CNN uses: compiled in advance by `tinyscene third-party build`.
COMMON_REGISTRATIONS = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                        "ADD", "MUL", "SOFTMAX", "RESHAPE", "MEAN", "PAD", "CONCATENATION", "QUANTIZE",
                        "DEQUANTIZE", "RELU", "RELU6", "LOGISTIC", "STRIDED_SLICE", "SQUEEZE", "TRANSPOSE", "SHAPE",
                        "PACK"]


def prebuild(board: Board, *, progress: bool = True) -> tuple[Library, float]:
    """Build the library of `board`'s CPU kind (core, CMSIS-NN, common kernels of both variants) if
    it is not cached; returns (library, seconds spent)."""
    start = time.monotonic()
    lib = ensure_library(board, progress=progress)
    return lib, time.monotonic() - start
