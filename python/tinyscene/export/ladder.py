"""The verification ladder (shared/DESIGN.md): every export proves each step with numbers.

    1 torch_vs_onnxruntime   torch float vs onnxruntime float: max |logit difference|
    2 float_vs_int8          onnxruntime float vs int8 TFLite (LiteRT, reference kernels) on the
                             evaluate split: top-1 agreement over every clip (a clip whose int8
                             logits tie at the top agrees when the float top-1 is among the tied
                             classes; ties are counted), accuracy of each, accuracy drop
                             (percentage points); the float margins of the clips, as information
    3 litert_ref_vs_tflm     LiteRT int8 with reference kernels vs the tflite_micro Python
                             interpreter: fraction of clips whose int8 logits are identical
    4 host_c_vs_tflm         tinyscene's generated C (host build) vs tflite_micro: bit-exact fraction
    5 device_vs_host         the device (QEMU or a board) vs the host: filled by `tinyscene parity`

report.json keeps the rungs as a list of records {rung, title, status, metrics, checks[, reason]}:
status is pass | fail | pending (a rung whose tool does not exist yet or is run elsewhere); a
check is {key, value, op, threshold, pass}. A later stage adds or replaces its rung with
`set_rung(report, record)`, so the ladder grows without changing its readers.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyscene.aot.runner import run as aot_run
from tinyscene.errors import TsError
from tinyscene.export.to_tflite import to_nchw_float
from tinyscene.target.boards import load_board
from tinyscene.tflite.interpreters import (
    litert_interpreter,
    run_litert,
    run_onnx,
    run_tflm,
    run_torch,
)
from tinyscene.util.plots import pyplot, save_png

REPORT_FORMAT = "tinyscene-ladder/1"
# margin analysis (information only, not a check): float top-1 margins below this many int8 output
# steps are near-ties that an int8 output cannot be expected to order
RESOLVABLE_STEPS = 2.0
# the split sizes from which a threshold is resolved as given (see `effective_threshold`)
RESOLVING_CLIPS = {"top1_agreement": 100, "accuracy_drop_pp": 200}

# --fail-on keys: (default threshold, comparison, meaning)
FAIL_ON: dict[str, tuple[float, str, str]] = {
    "torch_onnx_max_abs": (1e-4, "<=", "torch vs onnxruntime: max abs logit difference"),
    "top1_agreement": (0.99, ">=", "float vs int8: top-1 agreement on the evaluate split (fraction)"),
    "accuracy_drop_pp": (0.5, "<=", "float vs int8: accuracy drop in percentage points"),
    "litert_tflm_bitexact": (1.0, ">=", "LiteRT reference kernels vs tflite_micro: bit-exact fraction"),
    "host_c_bitexact": (1.0, ">=", "generated C on the host vs tflite_micro: bit-exact fraction"),
    "calib_min": (10, ">=", "calibration clips (fewer is an error)"),
}

RUNG_TITLES = {
    "torch_vs_onnxruntime": "torch float == onnxruntime float",
    "float_vs_int8": "float (onnxruntime) vs int8 (LiteRT ref)",
    "litert_ref_vs_tflm": "LiteRT int8 (reference kernels) == tflite_micro",
    "host_c_vs_tflm": "generated C on host == tflite_micro",
    "device_vs_host": "device == host (features, logits)",
}


def parse_fail_on(spec: str | None) -> dict[str, float | None]:
    """'key=value,...' over the defaults; a value of 'off' disables that check."""
    th: dict[str, float | None] = {k: v[0] for k, v in FAIL_ON.items()}
    if not spec:
        return th
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep or key not in FAIL_ON:
            raise TsError(f"--fail-on '{item}': expected key=value with key one of {', '.join(FAIL_ON)}")
        val = val.strip()
        if val.lower() in ("off", "none"):
            th[key] = None
            continue
        try:
            v = float(val)
        except ValueError:
            raise TsError(f"--fail-on {key}={val}: not a number (or 'off')") from None
        if not math.isfinite(v):
            raise TsError(f"--fail-on {key}={val}: must be finite")
        th[key] = v
    return th


def effective_threshold(key: str, th: float, clips: int | None) -> float:
    """A threshold applied at the resolution of the split: on n clips one clip moves the top-1
    agreement by 1/n and the accuracy by 100/n points, so a split too small to measure the
    threshold tolerates the smallest deviation it can measure (one clip). From 100 clips on
    (agreement 0.99) or 200 (drop 0.5 pp) the threshold applies as given; a threshold of exactly
    1.0 agreement / 0 points is always exact."""
    if not clips:
        return th
    if key == "top1_agreement" and th < 1.0:
        allowed = max(1, math.floor((1.0 - th) * clips + 1e-9))
        return min(th, 1.0 - allowed / clips)
    if key == "accuracy_drop_pp" and th > 0.0:
        return max(th, 100.0 / clips)
    return th


def check(key: str, value: float | None, thresholds: dict, clips: int | None = None) -> dict | None:
    """One check record, or None when the threshold is off. `clips`: the split size, for the
    checks that count clips (see `effective_threshold`)."""
    th = thresholds.get(key)
    if th is None:
        return None
    op = FAIL_ON[key][1]
    eff = effective_threshold(key, th, clips)
    tol = 1e-9

    def passes(t):
        return value is not None and math.isfinite(value) and (value <= t + tol if op == "<=" else value >= t - tol)

    ok = passes(eff)
    rec = {"key": key, "value": value, "op": op, "threshold": th, "pass": bool(ok)}
    if eff != th:
        # a split too small to resolve the threshold tolerates one clip: say so, and whether this
        # check passed only thanks to that clip
        rec["effective_threshold"] = eff
        rec["clips"] = clips
        rec["small_split_tolerance"] = {
            "clips": clips, "clips_to_resolve": RESOLVING_CLIPS.get(key), "tolerated_clips": 1,
            "applied": bool(ok and not passes(th)),
            "note": f"{clips} clips cannot resolve {key} {op} {th:g}: one clip is tolerated "
                    f"(threshold {eff:.4g} on this split)"}
    return rec


def rung(name: str, metrics: dict, checks: list, status: str | None = None, reason: str | None = None) -> dict:
    checks = [c for c in checks if c is not None]
    if status is None:
        status = "pass" if all(c["pass"] for c in checks) else "fail"
    rec = {"rung": name, "title": RUNG_TITLES.get(name, name), "status": status, "metrics": metrics,
           "checks": checks}
    if reason:
        rec["reason"] = reason
    return rec


def pending(name: str, reason: str) -> dict:
    return rung(name, {}, [], status="pending", reason=reason)


def set_rung(report: dict, record: dict) -> dict:
    """Add or replace a rung (by name) in report['ladder'], keeping the ladder's order."""
    order = list(RUNG_TITLES)
    ladder = [r for r in report.get("ladder", []) if r["rung"] != record["rung"]]
    ladder.append(record)
    ladder.sort(key=lambda r: order.index(r["rung"]) if r["rung"] in order else len(order))
    report["ladder"] = ladder
    report["passed"] = all(r["status"] != "fail" for r in ladder)
    return report


def tolerances(report: dict) -> list[dict]:
    """The checks of the ladder whose split was too small to resolve their threshold (one clip
    tolerated), with `applied`: true when the check passed only thanks to that clip."""
    out = []
    for r in report.get("ladder", []):
        for c in r.get("checks", []):
            t = c.get("small_split_tolerance")
            if t:
                out.append({"rung": r["rung"], "key": c["key"], "clips": t["clips"],
                            "threshold": c["threshold"], "effective_threshold": c["effective_threshold"],
                            "value": c["value"], "applied": t["applied"]})
    return out


def failures(report: dict) -> list[str]:
    out = []
    for r in report.get("ladder", []):
        for c in r.get("checks", []):
            if not c["pass"]:
                out.append(f"{c['key']} = {_fmt(c['value'])} (needs {c['op']} "
                           f"{_fmt(c.get('effective_threshold', c['threshold']))})")
        if r["status"] == "fail" and not any(not c["pass"] for c in r.get("checks", [])):
            out.append(f"{r['rung']}: {r.get('reason', 'failed')}")
    return out


# ----------------------------------------------------------------------------------------------
# The rungs
# ----------------------------------------------------------------------------------------------

@dataclass
class LadderInputs:
    """What the ladder runs on. q_*: int8 NHWC front-end output; labels: class indices."""

    model: object                 # torch module (eval)
    onnx_path: object
    tflite: bytes
    scale: float                  # front-end int8 input scale / zero point (== the model's input)
    zero_point: int
    q_eval: np.ndarray            # int8 [N, n_mels, frames, channels], the evaluate split
    labels: np.ndarray            # int64 [N]
    exact_clips: int = 32         # clips run through the reference interpreters (slow)


def top1_agreement(y_float: np.ndarray, y_int8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(agrees, tied) per clip. A clip agrees when the int8 top-1 is the float top-1; the one special
    case is an exact int8 tie at the top (the int8 output cannot order those classes), where it
    agrees when the float top-1 is one of the tied classes. `tied`: the int8 top is a tie."""
    y_float, y_int8 = np.asarray(y_float), np.asarray(y_int8)
    top8 = y_int8 == y_int8.max(axis=1, keepdims=True)
    return top8[np.arange(len(y_float)), y_float.argmax(1)], top8.sum(axis=1) > 1


def run_ladder(inp: LadderInputs, thresholds: dict, progress=None) -> tuple[dict, dict]:
    """Rungs 1–3 (4 when tinyscene's compiler can run on the host). Returns (report, arrays)
    where arrays holds the logits for the plot and the vectors."""
    step = progress or (lambda msg: None)
    n = len(inp.q_eval)
    if n == 0:
        raise TsError("evaluate split: no clips to verify the export on")
    x = to_nchw_float(inp.q_eval, inp.scale, inp.zero_point)
    report: dict = {"format": REPORT_FORMAT, "ladder": [], "passed": True}

    step("torch vs onnxruntime")
    y_torch = run_torch(inp.model, x)
    y_onnx = run_onnx(inp.onnx_path, x)
    d = float(np.max(np.abs(y_torch - y_onnx)))
    set_rung(report, rung("torch_vs_onnxruntime",
                          {"max_abs_diff": d, "mean_abs_diff": float(np.mean(np.abs(y_torch - y_onnx))),
                           "clips": n},
                          [check("torch_onnx_max_abs", d, thresholds)]))

    step("float vs int8")
    # reference kernels: the int8 numbers the device computes (LiteRT's optimized kernels are not
    # bit-exact with them: a near-tie can flip)
    y8 = run_litert(inp.tflite, inp.q_eval, reference=True)
    det = litert_interpreter(inp.tflite, True).get_output_details()[0]
    o_scale, o_zp = det["quantization"]
    y8f = (y8.astype(np.float32) - o_zp) * o_scale
    p_f, p_8 = y_onnx.argmax(1), y8.argmax(1)  # argmax of int8 = argmax of its dequantised values
    agrees, tied = top1_agreement(y_onnx, y8)
    top8 = y8 == y8.max(axis=1, keepdims=True)
    agree = float(np.mean(agrees))
    acc_f = float(np.mean(p_f == inp.labels))
    acc_8 = float(np.mean(p_8 == inp.labels))
    drop = 100.0 * (acc_f - acc_8)
    # Margin analysis (information only): a float decision closer than RESOLVABLE_STEPS output steps
    # is a near-tie that int8 rounding can flip.
    top2 = np.sort(y_onnx, axis=1)[:, -2:] if y_onnx.shape[1] > 1 else np.concatenate([y_onnx, y_onnx], 1)
    margin = top2[:, 1] - top2[:, 0]
    resolvable = margin >= RESOLVABLE_STEPS * float(o_scale)
    n_r = int(resolvable.sum())
    differ = [{"clip": int(i), "float_top1": int(p_f[i]), "int8_top1": int(p_8[i]),
               "int8_tied_top": [int(c) for c in np.flatnonzero(top8[i])] if tied[i] else None,
               "float_margin_steps": round(float(margin[i] / o_scale), 2),
               "float_logits": [round(float(v), 5) for v in y_onnx[i]], "int8_logits": [int(v) for v in y8[i]]}
              for i in np.flatnonzero(~agrees)]
    set_rung(report, rung("float_vs_int8",
                          {"clips": n, "top1_agreement": agree, "clips_disagreeing": int(np.sum(~agrees)),
                           "int8_top_ties": int(tied.sum()),
                           "int8_top_ties_agreeing": int(np.sum(tied & agrees)),
                           "accuracy_float": acc_f, "accuracy_int8": acc_8, "accuracy_drop_pp": drop,
                           "margin_analysis": {
                               "note": "information only: the check is the agreement over all clips",
                               "resolvable_margin_steps": RESOLVABLE_STEPS, "clips_resolvable": n_r,
                               "top1_agreement_resolvable": float(np.mean(agrees[resolvable])) if n_r else None,
                               "disagreements_below_margin": int(np.sum(~agrees & ~resolvable)),
                               "min_margin_steps": round(float(margin.min() / o_scale), 3)},
                           "logit_max_abs_diff": float(np.max(np.abs(y8f - y_onnx))),
                           "logit_rmse": float(np.sqrt(np.mean((y8f - y_onnx) ** 2))),
                           "output_scale": float(o_scale), "output_zero_point": int(o_zp),
                           "int8_runtime": "LiteRT reference kernels", "disagreements": differ},
                          [check("top1_agreement", agree, thresholds, n),
                           check("accuracy_drop_pp", drop, thresholds, n)]))

    k = min(n, max(1, int(inp.exact_clips)))
    step(f"LiteRT reference vs tflite_micro ({k} clips)")
    sub = inp.q_eval[:k]
    y_ref = y8[:k]
    y_micro = run_tflm(inp.tflite, sub)
    y_opt = run_litert(inp.tflite, sub, reference=False)
    same = np.all(y_ref == y_micro, axis=1)
    frac = float(np.mean(same))
    set_rung(report, rung("litert_ref_vs_tflm",
                          {"clips": k, "bitexact": frac, "clips_differing": int(np.sum(~same)),
                           "max_abs_diff_lsb": int(np.max(np.abs(y_ref.astype(np.int32) - y_micro))),
                           "litert_optimized_equals_reference": float(np.mean(np.all(y_opt == y_ref, axis=1)))},
                          [check("litert_tflm_bitexact", frac, thresholds)]))

    step("generated C on host vs tflite_micro")
    set_rung(report, host_c_rung(inp.tflite, sub, y_micro, thresholds))
    set_rung(report, pending("device_vs_host", "run `tinyscene parity --bundle <this bundle> --board B`"))
    report["small_split_tolerances"] = tolerances(report)
    arrays = {"float": y_onnx, "torch": y_torch, "int8": y8, "int8_dequant": y8f, "tflm": y_micro,
              "labels": inp.labels, "output_scale": float(o_scale), "output_zero_point": int(o_zp)}
    return report, arrays


def host_c_rung(tflite: bytes, q_nhwc: np.ndarray, y_micro: np.ndarray, thresholds: dict) -> dict:
    """Rung 4: tinyscene's AOT-compiled C, built for the host, vs tflite_micro. A compiler or host build
    that fails is this rung failing (pending only when its check is switched off)."""
    with tempfile.TemporaryDirectory(prefix="ts-export-hostc-") as td:
        model = Path(td) / "model_int8.tflite"
        model.write_bytes(tflite)
        try:
            outs, rep = aot_run(model, load_board("host"), [q for q in q_nhwc], workdir=Path(td) / "work")
        except TsError as e:
            r = rung("host_c_vs_tflm", {"clips": len(q_nhwc)}, [check("host_c_bitexact", 0.0, thresholds)],
                     reason=f"the compiler or its host build failed: {e}")
            if thresholds.get("host_c_bitexact") is None:
                r["status"] = "pending"
            return r
    y = np.stack([np.asarray(o).reshape(-1) for o in outs])
    same = np.all(y == y_micro, axis=1)
    frac = float(np.mean(same))
    return rung("host_c_vs_tflm", {"clips": len(q_nhwc), "bitexact": frac, "clips_differing": int(np.sum(~same)),
                                   "arena_bytes": int(rep.arena_bytes)},
                [check("host_c_bitexact", frac, thresholds)])


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


_SHOW = {
    "torch_vs_onnxruntime": [("max_abs_diff", "max |diff|")],
    "float_vs_int8": [("top1_agreement", "agreement"), ("int8_top_ties", "int8 ties"),
                      ("accuracy_float", "acc float"), ("accuracy_int8", "acc int8"), ("accuracy_drop_pp", "drop pp")],
    "litert_ref_vs_tflm": [("bitexact", "bit-exact")],
    "host_c_vs_tflm": [("bitexact", "bit-exact")],
    "device_vs_host": [("logits_bitexact", "logits bit-exact"), ("features_bitexact", "features bit-exact")],
}


def format_table(report: dict) -> str:
    """The ladder as a text table (one line per rung)."""
    rows = [("rung", "status", "clips", "figures")]
    for r in report.get("ladder", []):
        m = r.get("metrics", {})
        figs = ", ".join(f"{label} {_fmt(m[k])}" for k, label in _SHOW.get(r["rung"], []) if k in m)
        if r["status"] == "pending":
            figs = r.get("reason", "")
        fails = [c for c in r.get("checks", []) if not c["pass"]]
        if fails:
            figs += "  [" + "; ".join(f"{c['key']} needs {c['op']} {_fmt(c.get('effective_threshold', c['threshold']))}"
                                      for c in fails) + "]"
        elif any("effective_threshold" in c for c in r.get("checks", [])):
            figs += "  [" + "; ".join(
                f"{c['key']} {c['op']} {_fmt(c['effective_threshold'])}: one clip of {c['clips']} tolerated"
                + (" (and needed)" if c.get("small_split_tolerance", {}).get("applied") else " (not needed)")
                for c in r["checks"] if "effective_threshold" in c) + "]"
        elif r["status"] == "fail" and r.get("reason"):
            figs += f"  [{r['reason']}]"
        rows.append((r.get("title", r["rung"]), r["status"].upper(), str(m.get("clips", "")), figs))
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:>{w[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * min(120, max(len(ln) for ln in lines)))
    return "\n".join(lines)


def plot_logits(arrays: dict, path, classes) -> None:
    """Scatter of int8 (dequantised) vs float logits, one colour per class, with the diagonal."""
    plt = pyplot()
    yf, y8 = arrays["float"], arrays["int8_dequant"]
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    for c in range(yf.shape[1]):
        name = classes[c] if c < len(classes) else f"class {c}"
        ax.scatter(yf[:, c], y8[:, c], s=9, alpha=0.7, label=f"logit {name}")
    lo = float(min(yf.min(), y8.min()))
    hi = float(max(yf.max(), y8.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="int8 = float")
    agree = float(np.mean(top1_agreement(yf, arrays["int8"])[0]))
    ax.set_xlabel("float logit (onnxruntime)")
    ax.set_ylabel("int8 logit, dequantised (LiteRT)")
    ax.set_title(f"float vs int8 logits: {len(yf)} clips, top-1 agreement {100 * agree:.1f}%", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
