"""Writes model_stream.c / model_stream.h: the only writer of a streamed model's C.

model_stream.c implements the streamed API of ts/model.h (ts_model_stream_reset / _row_buffer / _push_row /
_finish) and the common model interface (tensor tables, ts_model_check, layer hook; ts_model_invoke returns
TS_ERR_UNSUPPORTED). Constants and parameter blocks are written as model.c's (the same helpers of
cwriter.py); each streamed layer has one parameter block for its interior calls and one per edge call.

Per input row (push_row), ts_stream_run() sweeps over the layers in graph order, each making at most one call
per sweep when the next call's input rows have been produced (a lazy layer: also when a reader wants its
rows), until a sweep makes none (streamsched.simulate replays exactly this at compile time). Rings are written through
tsm_ring<N>_write(row, n), which moves the rows still needed to the start of the ring when the rows would
pass its end. Built with -DTS_MODEL_POISON (tests), every ring row no reader needs any more, every slot
past the rows written and every byte of the shared region that holds nothing live after a layer is
overwritten with a pattern."""
from __future__ import annotations

from tinyscene.aot.cwriter import (CTYPE, FAMILY_HEADERS, _array, _banner, _tensor_desc, _value, arena_code,
                                   poison_code)
from tinyscene.tflite.graph import Graph
from tinyscene.aot.kernels import CArray, Layer
from tinyscene.aot.streamlower import SLayer, StreamPlan
from tinyscene.aot.streamsched import Ring, Schedule


def _ring_ids(sched: Schedule) -> dict[int, int]:
    return {root: i for i, root in enumerate(sched.rings)}


def _consts(g: Graph, slayers: list[SLayer], post: list[Layer]) -> dict[int, CArray]:
    out: dict[int, CArray] = {}
    for L in [*(s.layer for s in slayers), *post]:
        for tid in L.inputs:
            t = g.t(tid) if tid >= 0 else None
            if t is not None and t.data is not None and tid not in out:
                out[tid] = CArray(f"tsm_t{tid}", CTYPE[t.dtype], t.data, "const")
    return out


def _block(L: Layer, name: str) -> str:
    fields = ",\n".join(f"    .{k} = {_value(v)}" for k, v in L.params.items())
    return f"{{\n{fields}\n}}" if name is None else f"static const {L.params_type} {name} = {{\n{fields}\n}};"


def _ring_write(sched: Schedule, ring: Ring, rid: int, off: int) -> list[str]:
    c = [f"/* ring {rid}: tensor {ring.tensor}, {ring.slots} rows x {ring.row_bytes} B"
         + (", persistent" if ring.persistent else ", transient") + " */",
         f"static int32_t tsm_ring{rid}_keep(int32_t row)", "{",
         "    int32_t keep = row; /* the oldest row a reader's next call reads */"]
    for pos, win in ring.readers:
        s = sched.sops[pos]
        c.append(f"    if (ts_st.done[{pos}] < {s.t_out}) {{")
        if win.stride == 1 and win.pad == 0:
            c.append(f"        const int32_t f = ts_st.done[{pos}];")
        else:
            c.append(f"        int32_t f = ts_st.done[{pos}] * {win.stride} - {win.pad};")
            c.append("        if (f < 0) f = 0;")
        c.append("        if (f < keep) keep = f;")
        c.append("    }")
    c += ["    return keep;", "}", "",
          f"static int8_t *tsm_ring{rid}_write(int32_t row, int32_t n)", "{",
          f"    uint8_t *const buf = ts_model_arena + {off};",
          f"    if (row + n - ts_st.base[{rid}] > {ring.slots}) {{",
          f"        const int32_t keep = tsm_ring{rid}_keep(row);",
          f"        if (row > keep) memmove(buf, buf + (size_t)(keep - ts_st.base[{rid}]) * {ring.row_bytes}u, "
          f"(size_t)(row - keep) * {ring.row_bytes}u);",
          f"        ts_st.base[{rid}] = keep;",
          "    }",
          "#if defined(TS_MODEL_POISON)",
          f"    memset(buf, 0xA5, (size_t)(tsm_ring{rid}_keep(row) - ts_st.base[{rid}]) * {ring.row_bytes}u);",
          f"    memset(buf + (size_t)(row + n - ts_st.base[{rid}]) * {ring.row_bytes}u, 0xA5, "
          f"(size_t)({ring.slots} - (row + n - ts_st.base[{rid}])) * {ring.row_bytes}u);",
          "#endif",
          f"    return (int8_t *)(buf + (size_t)(row - ts_st.base[{rid}]) * {ring.row_bytes}u);", "}", ""]
    return c


def write_stream_c(g: Graph, sched: Schedule, slayers: list[SLayer], post: list[Layer], plan: StreamPlan,
                   command: str, arena_section: str | None, family: str = "reference") -> tuple[str, str]:
    """-> (model_stream.c, model_stream.h)."""
    banner = _banner(command, g)
    rids = _ring_ids(sched)
    consts = _consts(g, slayers, post)
    info = sched.info
    S = len(slayers)
    finishes = [s for s in slayers if s.finish is not None]
    n_layers = S + len(finishes) + len(post)
    calls = sum(s.sop.calls for s in slayers)
    inp = sched.input_ring

    h = [banner, "#ifndef TS_MODEL_STREAM_H", "#define TS_MODEL_STREAM_H", "",
         "/* The declarations common to every generated model (streamed API, tensor tables, ...). */",
         '#include "ts/model.h"', "",
         f"#define TS_MODEL_ARENA_BYTES {plan.arena_bytes}u",
         f"#define TS_MODEL_STREAM_ROWS {info.rows}",
         f"#define TS_MODEL_STREAM_ROW_BYTES {inp.row_bytes}",
         f"#define TS_MODEL_NUM_LAYERS {n_layers}", ""]
    for k, tid in enumerate(g.outputs):
        h.append(f"/* output {k}: {g.t(tid).describe()} */")
    h += ["", "#endif /* TS_MODEL_STREAM_H */", ""]

    c = [banner, "#include <stddef.h>", "#include <stdint.h>", "#include <string.h>", "", '#include "ts/model.h"',
         *([f'#include "{FAMILY_HEADERS[family]}"'] if family in FAMILY_HEADERS else []), "",
         f"const uint32_t ts_model_arena_bytes = {plan.arena_bytes}u;",
         f"const int32_t ts_model_num_inputs = {len(g.inputs)};",
         f"const int32_t ts_model_num_outputs = {len(g.outputs)};",
         f"const int32_t ts_model_num_layers = {n_layers};",
         f"const ts_stream_info_t ts_model_stream_info = {{{info.rows}, {inp.row_bytes}, "
         f"{ {'H': 1, 'W': 2}[info.axis_name] }, {calls}}};", ""]
    c.append(f"/* The arena: persistent rings and sums ({plan.persistent_bytes} B), then the region shared by the "
             f"transient rings, the scratch and the layers after the reductions ({plan.shared_bytes} B). */")
    c += arena_code(plan.arena_bytes, arena_section)
    c += ["/* Stream state: input rows pushed, next output row (rows consumed) of each streamed layer, the row at "
          "slot 0 of each ring. */",
          "static struct {", "    int32_t pushed;", f"    int32_t done[{max(S, 1)}];",
          f"    int32_t base[{len(rids)}];", "} ts_st;", ""]
    for tid, a in consts.items():
        c.append(f"/* constant operand: {g.t(tid).describe()} */")
        c.append(_array(a))

    # ---- parameter blocks
    for sl in slayers:
        L, s = sl.layer, sl.sop
        c.append(f"/* layer {L.index}: {s.op.kind} (op {s.op.index}"
                 + (f" + fused {', '.join(map(str, s.op.fused))}" if s.op.fused else "")
                 + f") -> {L.function}, {s.kind}: {s.t_out} rows from {s.t_in}, {s.n} per call, window "
                 f"stride {s.window.stride} pad {s.window.pad} extent {s.window.extent} */")
        for k, v in (L.info.get("kernel_choice") or {}).items():
            c.append(f"/*   {k}: {v} */")
        for a in L.arrays:
            c.append(_array(a))
        c.append(_block(L, L.name))
        if sl.edges:
            order = sorted(sl.edges)
            c.append(f"/* calls {', '.join(map(str, order))} (the clip's edges) */")
            c.append(f"static const {L.params_type} {L.name}_e[{len(order)}] = {{")
            c += [_block(sl.edges[k], None) + "," for k in order]
            c.append("};")
        if sl.finish is not None:
            F = sl.finish
            c.append(f"/* layer {F.index}: {s.op.kind} at the end of the stream -> {F.function} */")
            c.append(_block(F, F.name))
        c.append("")
    for L in post:
        c.append(f"/* layer {L.index}: {L.op.kind} (op {L.op.index}) -> {L.function}"
                 + (f", weights {L.weight_layout}" if L.weight_layout else "") + " */")
        for k, v in (L.info.get("kernel_choice") or {}).items():
            c.append(f"/*   {k}: {v} */")
        for a in L.arrays:
            c.append(_array(a))
        c.append(_block(L, L.name))
        c.append("")

    # ---- tensor tables
    def arena_desc(tid: int) -> str:
        return _tensor_desc(g.t(tid), plan.tensor_offset[tid], None)

    descs, names = [], []
    for sl in slayers:
        t = g.t(sl.sop.output if sl.sop.output is not None else sl.sop.inputs[0])
        descs.append(_tensor_desc(t, None, "0"))
        names.append((sl.sop.op.kind, sl.sop.op.index))
    for sl in finishes:
        descs.append(arena_desc(sl.finish.outputs[0]))
        names.append((sl.sop.op.kind, sl.sop.op.index))
    for L in post:
        descs.append(arena_desc(L.outputs[0]))
        names.append((L.op.kind, L.op.index))
    c.append("/* Output tensor of each layer (for the layer hook; NULL data: a streamed layer's rows). */")
    c.append(f"static const ts_tensor_t ts_model_layer_outputs[{n_layers}] = {{")
    c += [f"    {d}," for d in descs]
    c.append("};")
    c.append(f"const ts_layer_t ts_model_layers[{n_layers}] = {{")
    c += [f'    {{"{kind}", {idx}, &ts_model_layer_outputs[{k}]}},' for k, (kind, idx) in enumerate(names)]
    c.append("};")
    c.append(f"const ts_tensor_t ts_model_inputs[{len(g.inputs)}] = {{")
    for t in g.inputs:  # the input as the model has it (the rows arrive along its streamed axis)
        x = g.t(t)
        x = type(x)(x.index, x.name, info.input_shape if t == info.input else x.shape, x.dtype, x.quant, x.data)
        c.append(f"    {_tensor_desc(x, None, '0')},")
    c.append("};")
    c.append(f"const ts_tensor_t ts_model_outputs[{len(g.outputs)}] = {{")
    c += [f"    {arena_desc(t) if g.t(t).data is None else _tensor_desc(g.t(t), None, consts[t].name if t in consts else '0')},"
          for t in g.outputs]
    c.append("};")
    c += ["", "static ts_layer_hook_t ts_model_hook;", "static void *ts_model_hook_user;", "",
          "void ts_model_set_layer_hook(ts_layer_hook_t hook, void *user)", "{",
          "    ts_model_hook = hook;", "    ts_model_hook_user = user;", "}", "",
          "#define TSM_HOOK(k) do { if (ts_model_hook) ts_model_hook((k), &ts_model_layers[(k)], ts_model_hook_user); "
          "} while (0)", ""]

    # ---- scratch checks
    c += ["ts_status_t ts_model_check(void)", "{"]
    for sl in slayers:
        L = sl.layer
        fn = L.variant.buffer_size_function if L.variant else None
        if fn:
            c.append(f"    if ({fn}(&{L.name}) > {sl.scratch_bytes}) return TS_ERR_NOMEM; /* layer {L.index} */")
            if sl.edges:
                c.append(f"    for (int i = 0; i < {len(sl.edges)}; i++)")
                c.append(f"        if ({fn}(&{L.name}_e[i]) > {sl.scratch_bytes}) return TS_ERR_NOMEM;")
    for L in post:
        fn = L.variant.buffer_size_function if L.variant else None
        if fn:
            c.append(f"    if ({fn}(&{L.name}) > {L.scratch_bytes}) return TS_ERR_NOMEM; /* layer {L.index} */")
    c += ["    return TS_OK;", "}", ""]

    # ---- poisoning of the shared region (test builds)
    shared = [(b.first, b.last, b.offset, b.size) for b in plan.buffers if b.offset >= plan.persistent_bytes]
    c += poison_code(shared, range(-1, S), plan.persistent_bytes, plan.arena_bytes, "a live buffer")

    # ---- rings
    for root, ring in sched.rings.items():
        c += _ring_write(sched, ring, rids[root], plan.ring_offset[root])

    def produced(root: int) -> str:
        r = sched.rings[root]
        return "ts_st.pushed" if r.writer < 0 else f"ts_st.done[{r.writer}]"

    def read(root: int, row: str) -> str:
        r = sched.rings[root]
        return (f"(const int8_t *)(ts_model_arena + {plan.ring_offset[root]} + (size_t)({row} - ts_st.base[{rids[root]}])"
                f" * {r.row_bytes}u)")

    # ---- the pass
    c += ["/* One pass: sweeps over the layers, each making at most one call per sweep when its input rows exist",
          " * (a lazy layer: and a reader wants its rows), until a sweep makes none. */",
          "static void ts_stream_run(void)", "{",
          "    uint8_t *const A = ts_model_arena;", "    (void)A;", "    int32_t progress;", "    do {",
          "        progress = 0;"]
    for sl in slayers:
        L, s = sl.layer, sl.sop
        k = s.pos
        w = s.window
        ind = " " * 12
        c.append(f"        /* layer {k}: {s.op.kind} -> {L.function}{', lazy' if s.lazy else ''}"
                 f"{', every call it can' if s.greedy else ', one call per sweep'} */")
        c.append(f"        while (ts_st.done[{k}] < {s.t_out}) {{")
        c.append(f"{ind}const int32_t o = ts_st.done[{k}];")
        if s.n > 1:
            c.append(f"{ind}const int32_t call = (o + {s.phase}) / {s.n};")
            c.append(f"{ind}const int32_t end = (call + 1) * {s.n} - {s.phase};")
            c.append(f"{ind}const int32_t n = (end < {s.t_out} ? end : {s.t_out}) - o;")
        else:
            c.append(f"{ind}const int32_t call = o;")
            c.append(f"{ind}const int32_t n = 1;")
        if w.stride == 1 and w.pad == 0:
            c.append(f"{ind}const int32_t first = o;")
        else:
            c.append(f"{ind}const int32_t first = o * {w.stride} - {w.pad} < 0 ? 0 : o * {w.stride} - {w.pad};")
        c.append(f"{ind}int32_t last = (o + n - 1) * {w.stride} - {w.pad} + {w.extent - 1};")
        c.append(f"{ind}if (last > {s.t_in - 1}) last = {s.t_in - 1};")
        conds = [f"{produced(r)} > last" for r in dict.fromkeys(s.rings_in)]
        if s.lazy:
            wants = []
            for pos, _ in sched.rings[s.ring_out].readers:
                rd = sched.sops[pos]
                others = [f"{produced(x)} > o" for x in dict.fromkeys(rd.rings_in) if x != s.ring_out]
                wants.append("(" + " && ".join([f"ts_st.done[{pos}] < {rd.t_out}", *others]) + ")")
            conds.append("(" + " || ".join(wants) + ")")
        c.append(f"{ind}if (!({' && '.join(conds)})) break;")
        ind2 = ind
        c.append(f"{ind2}(void)first;")
        c.append(f"{ind2}(void)call;")
        if sl.edges:
            top, bottom = sl.top, sl.bottom
            sel = f"&{L.name}"
            if bottom < s.calls:
                sel = f"call >= {bottom} ? &{L.name}_e[{top} + call - {bottom}] : {sel}"
            if top > 0:
                sel = f"call < {top} ? &{L.name}_e[call] : {sel}"
            c.append(f"{ind2}const {L.params_type} *const p = {sel};")
        else:
            c.append(f"{ind2}const {L.params_type} *const p = &{L.name};")
        args = []
        sliced = dict(sl.row_consts)
        for pos, tid in enumerate(L.inputs):
            if tid in sched.alias:
                args.append(read(sched.alias[tid], "first"))
            elif tid in consts:
                args.append(f"{consts[tid].name} + (size_t)o * {sliced[pos]}u" if pos in sliced else consts[tid].name)
            else:
                args.append("NULL")
        if s.kind == "reduce":
            c.append(f"{ind2}ts_mean_accumulate_s8(p, {args[0]}, (int32_t *)(A + {plan.acc_offset[k]}));")
        else:
            out = f"tsm_ring{rids[s.ring_out]}_write(o, n)"
            if L.signature == "nary":
                c.append(f"{ind2}const int8_t *const in[{len(args)}] = {{{', '.join(args)}}};")
                c.append(f"{ind2}{L.function}(p, in, {out});")
            else:
                call = ["p", *args, out]
                if L.variant and L.variant.buffer_size_function:
                    call.append(f"A + {plan.scratch_offset[k]}" if k in plan.scratch_offset else "NULL")
                c.append(f"{ind2}{L.function}({', '.join(call)});")
        c.append(f"{ind2}ts_st.done[{k}] = o + n;")
        c.append(f"{ind2}progress = 1;")
        c.append(f"{ind2}TSM_HOOK({k});")
        if not s.greedy:
            c.append(f"{ind2}break;")
        c.append("        }")
        c.append(f"        TS_MODEL_POISON_AFTER({k});")
    c += ["    } while (progress);", "}", ""]

    # ---- API
    rin = rids[sched.alias[info.input]]
    c += ["void ts_model_stream_reset(void)", "{", "    memset(&ts_st, 0, sizeof ts_st);"]
    for sl in slayers:
        if sl.acc_bytes:
            c.append(f"    memset(ts_model_arena + {plan.acc_offset[sl.sop.pos]}, 0, {sl.acc_bytes}u);")
    c += ["}", "",
          "int8_t *ts_model_stream_row_buffer(void)", "{",
          f"    return tsm_ring{rin}_write(ts_st.pushed < {info.rows} ? ts_st.pushed : {info.rows - 1}, 1);", "}", "",
          "ts_status_t ts_model_stream_push_row(const int8_t *row)", "{",
          f"    if (ts_st.pushed >= {info.rows}) return TS_ERR_SIZE;",
          "    int8_t *dst = ts_model_stream_row_buffer();",
          f"    if (row != dst) memcpy(dst, row, {inp.row_bytes}u);",
          "    ts_st.pushed++;",
          "    TS_MODEL_POISON_AFTER(-1);",
          "    ts_stream_run();",
          "    return TS_OK;", "}", "",
          "ts_status_t ts_model_stream_finish(void)", "{",
          "    uint8_t *const A = ts_model_arena;",
          f"    if (ts_st.pushed != {info.rows}) return TS_ERR_SIZE;"]

    def tensor_arg(tid: int, const: bool) -> str:
        t = g.t(tid)
        if tid in consts:
            return consts[tid].name
        q = "const " if const else ""
        return f"({q}{CTYPE.get(t.dtype, 'int8_t')} *)(A + {plan.tensor_offset[tid]})"

    for sl in finishes:
        F = sl.finish
        c.append(f"    {F.function}(&{F.name}, (const int32_t *)(A + {plan.acc_offset[sl.sop.pos]}), "
                 f"{tensor_arg(F.outputs[0], False)});")
        c.append(f"    TSM_HOOK({F.index});")
    for L in post:
        outs = [tensor_arg(t, False) for t in L.outputs]
        if L.signature == "nary":
            ins = ", ".join(tensor_arg(t, True) for t in L.inputs)
            c += ["    {", f"        const int8_t *const in[{len(L.inputs)}] = {{{ins}}};",
                  f"        {L.function}(&{L.name}, in, {outs[0]});", "    }"]
        else:
            args = [f"&{L.name}"] + [tensor_arg(t, True) for t in L.inputs] + outs
            if L.variant and L.variant.buffer_size_function:
                args.append(f"A + {plan.scratch_offset[L.index]}" if L.index in plan.scratch_offset else "NULL")
            c.append(f"    {L.function}({', '.join(args)});")
        c.append(f"    TSM_HOOK({L.index});")
    c += ["    return TS_OK;", "}", "",
          "ts_status_t ts_model_invoke(void)", "{", "    return TS_ERR_UNSUPPORTED; /* a streamed model: "
          "ts_model_stream_push_row() */", "}", "",
          "void *ts_model_stream_shared(int32_t *bytes)", "{",
          f"    *bytes = {plan.shared_bytes};",
          f"    return ts_model_arena + {plan.persistent_bytes};", "}", ""]
    return "\n".join(c), "\n".join(h)
