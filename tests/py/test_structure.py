"""The layout of python/tinyscene (README "Layout"): packages on floors with every import pointing down, no
import cycle between packages, exactly one writer module per generated source file, and the constants the
Python side shares with the firmware's headers equal to them."""
from __future__ import annotations

import ast
from pathlib import Path

from tinyscene.paths import REPO_ROOT

PKG = REPO_ROOT / "python" / "tinyscene"

# Floors, lowest first: a unit may import units of its own floor's lower floors only (and never a unit
# of its own floor, except where listed in SAME_FLOOR).
FLOORS = [
    {"errors", "paths", "__version__"},
    {"util", "config"},
    {"target", "data", "models", "tflite", "thirdparty"},
    {"frontend", "aot", "tflm"},
    {"train", "runtimes"},
    {"export"},
    {"slim", "deploy"},
    {"cli"},  # imports every package's commands (by name, through importlib)
    {"demo", "__main__"},  # run the command line
]
SAME_FLOOR = {("config", "util")}  # none today: kept to name an exception explicitly

# Each generated C, assembly, linker script, header or compile report: the one module that writes it.
WRITERS = {
    "model.c": "aot/compiler.py", "model.h": "aot/compiler.py", "compile_report.json": "aot/compiler.py",
    "model_stream.c": "aot/streamcompile.py", "model_stream.h": "aot/streamcompile.py",
    "stream_report.json": "aot/streamcompile.py",
    "fe_tables.c": "frontend/codegen.py", "fe_tables.h": "frontend/codegen.py",
    "fe_cmsis_tables.c": "frontend/cmsisdsp.py", "fe_cmsis_tables.h": "frontend/cmsisdsp.py",
    "ts_clf.h": "deploy/classifier.py", "ts_clf_fe.c": "deploy/classifier.py", "ts_clf_glue.c": "deploy/classifier.py",
    "ts_tflm_ops.h": "tflm/firmware_sources.py", "ts_tflm_model.S": "tflm/firmware_sources.py",
    "ts_tflm_arena.c": "tflm/firmware_sources.py",
    "memory.ld": "target/build.py", "ts_tflm_pch.h": "tflm/build.py",
    "model_data.h": "export/bundle.py", "model_data.cc": "export/bundle.py", "ops.h": "export/bundle.py",
}
SOURCE_SUFFIXES = (".c", ".h", ".cc", ".S", ".s", ".ld")
WRITE_FUNCS = {"write_text", "write_bytes", "write_json", "write_files", "atomic_path", "open", "copyfile"}


def _unit(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _imports(path: Path):
    """(line, imported tinyscene unit) of every import in the file, at module level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [f"{node.module}.{a.name}" if node.module == "tinyscene" else node.module
                     for a in node.names] if node.module else []
        for n in names:
            parts = n.split(".")
            if parts[0] == "tinyscene" and len(parts) > 1:
                yield node.lineno, parts[1]


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for f in sorted(PKG.rglob("*.py")):
        u = _unit(f)
        for line, v in _imports(f):
            if v != u:
                edges.setdefault((u, v), []).append(f"{f.relative_to(PKG)}:{line}")
    return edges


def _floor(unit: str) -> int:
    for k, units in enumerate(FLOORS):
        if unit in units:
            return k
    raise AssertionError(f"package or module '{unit}' is on no floor of test_structure.FLOORS: add it")


def test_every_import_points_down():
    bad = [f"{u} -> {v} ({', '.join(where[:3])})" for (u, v), where in _edges().items()
           if _floor(v) > _floor(u) or (_floor(v) == _floor(u) and (u, v) not in SAME_FLOOR)]
    assert not bad, "imports that do not point down the floors:\n" + "\n".join(bad)


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for u, v in _edges():
        graph.setdefault(u, set()).add(v)
    seen, stack = set(), []

    def visit(u: str) -> None:
        if u in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(u):] + [u]))
        if u in seen:
            return
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            visit(v)
        stack.pop()
        seen.add(u)

    for u in sorted(graph):
        visit(u)


def _written_names(tree: ast.AST) -> set[str]:
    """String constants that name a file being written: in the first argument of a write call, or a key
    of the dict a function hands to write_files."""
    out: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.Module)):
            continue
        assigned: dict[str, list[ast.AST]] = {}  # local names -> the values assigned to them
        for a in ast.walk(fn):
            if isinstance(a, ast.Assign):
                for t in a.targets:
                    if isinstance(t, ast.Name):
                        assigned.setdefault(t.id, []).append(a.value)
                    elif isinstance(t, ast.Tuple) and isinstance(a.value, ast.Tuple):
                        for tt, vv in zip(t.elts, a.value.elts):
                            if isinstance(tt, ast.Name):
                                assigned.setdefault(tt.id, []).append(vv)

        def consts(node) -> set[str]:
            found = set()
            in_fstring = {id(c) for j in ast.walk(node) if isinstance(j, ast.JoinedStr) for c in ast.walk(j)}
            for n in ast.walk(node):
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in in_fstring:
                    found.add(n.value.rsplit("/", 1)[-1])
                elif isinstance(n, ast.Name) and n.id in assigned:
                    for v in assigned[n.id]:
                        fs = {id(c) for j in ast.walk(v) if isinstance(j, ast.JoinedStr) for c in ast.walk(j)}
                        found |= {c.value.rsplit("/", 1)[-1] for c in ast.walk(v)
                                  if isinstance(c, ast.Constant) and isinstance(c.value, str) and id(c) not in fs}
            return found

        calls = [c for c in ast.walk(fn) if isinstance(c, ast.Call)]
        names = {(c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", "")): c for c in calls}
        for c in calls:
            name = c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", "")
            if name in WRITE_FUNCS and c.args:
                arg = c.args[-1] if name == "copyfile" else c.args[0]
                if name == "open" and not any(isinstance(a, ast.Constant) and "w" in str(a.value)
                                              for a in c.args[1:2]):
                    continue
                if name in ("write_text", "write_bytes") and isinstance(c.func, ast.Attribute) and not c.args:
                    continue
                out |= consts(arg) if not (isinstance(c.func, ast.Attribute) and name in ("write_text", "write_bytes")) \
                    else consts(c.func.value)
        if "write_files" in names:
            for d in ast.walk(fn):
                if isinstance(d, ast.Dict):
                    for k in d.keys:
                        out |= consts(k) if k is not None else set()
                if isinstance(d, ast.Assign):
                    for t in d.targets:
                        if isinstance(t, ast.Subscript):
                            out |= consts(t.slice)
    return out


def test_one_writer_per_generated_file():
    writers: dict[str, set[str]] = {}
    for f in sorted(PKG.rglob("*.py")):
        for name in _written_names(ast.parse(f.read_text(), str(f))):
            if name in WRITERS or name.endswith(SOURCE_SUFFIXES):
                writers.setdefault(name, set()).add(f.relative_to(PKG).as_posix())
    unregistered = {n: w for n, w in writers.items() if n not in WRITERS}
    assert not unregistered, f"generated sources without a registered writer: {unregistered}"
    wrong = {n: sorted(w) for n, w in writers.items() if w != {WRITERS[n]}}
    assert not wrong, f"generated files written by other modules than their one writer: {wrong}"
    missing = sorted(set(WRITERS) - set(writers))
    assert not missing, f"registered generated files that no module writes (stale registry): {missing}"


def _header_text(name: str) -> str:
    return (REPO_ROOT / "firmware" / "include" / "ts" / name).read_text()


def test_status_codes_are_the_firmware_list():
    """Python's status texts come from status.h; checked here against the header's text by hand."""
    import re

    from tinyscene.target.status import STATUS_NAMES, STATUS_TEXT

    listed = re.findall(r'X\((TS_\w+),\s*(\d+),\s*"([^"]+)"\)', _header_text("status.h"))
    assert len(listed) >= 11
    assert STATUS_TEXT == {int(v): t for _, v, t in listed}
    assert STATUS_NAMES == {int(v): n for n, v, _ in listed}


def test_protocol_limits_match_proto_h():
    from tinyscene.deploy import classifier
    from tinyscene.target import protocol as P
    from tinyscene.target.cheader import defines

    d = defines("proto.h")
    assert d["TS_PROTO_VERSION"] == P.VERSION
    assert bytes([d["TS_PROTO_SYNC0"], d["TS_PROTO_SYNC1"]]) == P.SYNC
    assert d["TS_PROTO_HEADER_BYTES"] == P.HEADER_BYTES and d["TS_PROTO_CRC_BYTES"] == P.CRC_BYTES
    assert (d["TS_PROTO_DEBUG_CORRUPT"], d["TS_PROTO_DEBUG_HANG"], d["TS_PROTO_DEBUG_RESET"],
            d["TS_PROTO_DEBUG_EXIT"]) == (P.DEBUG_CORRUPT, P.DEBUG_HANG, P.DEBUG_RESET, P.DEBUG_EXIT)
    assert (d["TS_PROTO_CLIP_FEATURES"], d["TS_PROTO_CLIP_STREAMING"]) == (P.CLIP_FEATURES, P.CLIP_STREAMING)
    assert classifier.MAX_PAYLOAD == d["TS_PROTO_MAX_PAYLOAD"] == 4096
