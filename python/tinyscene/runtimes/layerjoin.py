"""Per-layer comparison of two runtimes on the same model (`tinyscene bench --per-layer`): the layers of a
compiled runtime (aot: one layer per kernel call, naming the .tflite operators it computes, its own and the
ones fused into it) against TFLM's operators (one row per .tflite operator). Layers that share an operator are
compared as one group; operators the compiler removes (views, folded constants) are not compared."""
from __future__ import annotations


def _ops_of(layer: dict) -> set[int]:
    ops = layer.get("tflite_ops")
    if ops is None:
        ops = [layer.get("op_index", layer.get("index"))]
    return {int(i) for i in ops if i is not None}


def join(layers: list[dict], tflm_layers: list[dict]) -> list[dict]:
    """Groups of layers (list order kept) with their instructions and TFLM's for the same operators:
    [{"layers": [index, ...], "ops": [tflite op, ...], "op": kind, "kernel": ..., "instructions": n,
      "tflm_instructions": n | None, "ratio": x | None}]."""
    tflm = {int(t["index"]): t for t in tflm_layers if t.get("instructions") is not None}
    groups: list[dict] = []
    for lay in layers:
        ops = _ops_of(lay)
        hit = [g for g in groups if g["_ops"] & ops]
        g = {"_ops": set(ops), "layers": [lay.get("index")], "op": lay.get("op"), "kernel": lay.get("kernel", ""),
             "instructions": lay.get("instructions")}
        for h in hit:  # merge every group that shares an operator
            groups.remove(h)
            g["_ops"] |= h["_ops"]
            g["layers"] = h["layers"] + g["layers"]
            g["instructions"] = None if h["instructions"] is None or g["instructions"] is None else \
                h["instructions"] + g["instructions"]
        groups.append(g)
    out = []
    for g in groups:
        ops = sorted(g.pop("_ops"))
        t = [tflm[i]["instructions"] for i in ops if i in tflm]
        base = sum(t) if t else None
        ins = g["instructions"]
        out.append({**g, "ops": ops, "tflm_instructions": base,
                    "ratio": ins / base if ins is not None and base else None})
    return out


def worst(joined: list[dict]) -> dict | None:
    """The group with the highest ratio (None when nothing compares)."""
    rated = [g for g in joined if g["ratio"] is not None]
    return max(rated, key=lambda g: g["ratio"]) if rated else None
