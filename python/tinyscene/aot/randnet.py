"""Random int8 networks through the TFLite converter, for the compiler's differential test.

`network(seed)` draws a small Keras network from a seed (pure numpy: the same seed gives the same network on any
machine): odd sizes, every op the compiler accepts (convolutions with any kernel, stride, dilation, padding and
groups; depthwise convolutions with depth multipliers; pooling; zero padding; element-wise ADD / MUL with another
branch, a broadcast or a constant; concatenation; RELU / RELU6 / LOGISTIC / TANH; reshapes; global means; dense
heads with SOFTMAX; float inputs and outputs), branches and several outputs. Half of the networks have an
unknown batch, so that the converter writes their dilated convolutions as SPACE_TO_BATCH_ND -> conv ->
BATCH_TO_SPACE_ND. `convert(spec)` builds and converts it (full-integer int8, random representative data);
`check(...)` runs it on the host and a QEMU board with the compiler's C and compares every output with the
tflite_micro interpreter, bit for bit (a new interpreter per input: see aot/tflm_arena.py for why).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock

from tinyscene.aot.compare import compare_with_tflm
from tinyscene.aot.compiler import compile_graph
from tinyscene.aot.runner import run
from tinyscene.errors import TsError
from tinyscene.target.boards import load_board
from tinyscene.tflite.interpreters import tflm_interpreter
from tinyscene.tflite.reader import read_tflite
from tinyscene.util.atomic import save_npy
from tinyscene.tflite.keras_int8 import keras_to_int8
from tinyscene.util.quiet import quiet, tf_env

MAX_MACS = 1_500_000  # per network: QEMU runs of a few million instructions
# converted models are cached under this module's digest (read once: an edit during a run starts a new key)
SOURCE_KEY = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]


@dataclass
class LayerSpec:
    kind: str  # conv | dwconv | maxpool | avgpool | pad | padv2 | add | mul | addc | mulc | concat | act | gap | mean
    #            | reshape | dense
    inputs: list[int]  # indices of earlier tensors (0 = the network input)
    args: dict
    shape: tuple  # output shape without the batch

    def describe(self, k: int) -> str:
        a = ", ".join(f"{n}={v}" for n, v in self.args.items())
        return f"t{k + 1} = {self.kind}({', '.join(f't{i}' for i in self.inputs)}; {a}) -> {list(self.shape)}"


@dataclass
class NetSpec:
    seed: int
    input_shape: tuple
    static_batch: bool
    float_io: bool
    layers: list[LayerSpec] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def describe(self) -> str:
        head = (f"random network {self.seed}: input t0 {list(self.input_shape)}, batch "
                f"{'1 (static)' if self.static_batch else 'unknown'}, {'float32' if self.float_io else 'int8'} I/O")
        return "\n".join([head] + [f"  {L.describe(k)}" for k, L in enumerate(self.layers)]
                         + [f"  outputs: {', '.join(f't{i}' for i in self.outputs)}"])

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _out(size: int, k: int, s: int, d: int, pad: str) -> int:
    eff = (k - 1) * d + 1
    return -(-size // s) if pad == "same" else (size - eff) // s + 1


def _macs(spec: NetSpec) -> int:
    shapes = [spec.input_shape] + [L.shape for L in spec.layers]
    total = 0
    for L in spec.layers:
        if L.kind == "conv":
            cin = shapes[L.inputs[0]][-1] // L.args["groups"]
            total += int(np.prod(L.shape)) * L.args["k"][0] * L.args["k"][1] * cin
        elif L.kind == "dwconv":
            total += int(np.prod(L.shape)) * L.args["k"][0] * L.args["k"][1]
        elif L.kind == "dense":
            total += int(np.prod(shapes[L.inputs[0]])) * L.args["units"]
    return total


def network(seed: int) -> NetSpec:
    """The random network of `seed` (a description; `build` makes the Keras model)."""
    rng = np.random.default_rng(seed)
    ri = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731  inclusive
    h, w, c = ri(3, 18), ri(3, 18), ri(1, 12)
    spec = NetSpec(seed, (h, w, c), static_batch=bool(rng.random() < 0.5), float_io=bool(rng.random() < 0.15))
    shapes: list[tuple] = [(h, w, c)]

    def add(kind: str, inputs: list[int], args: dict, shape: tuple) -> int:
        spec.layers.append(LayerSpec(kind, inputs, args, tuple(int(d) for d in shape)))
        shapes.append(tuple(int(d) for d in shape))
        return len(shapes) - 1

    def pick4() -> int:
        cands = [i for i, s in enumerate(shapes) if len(s) == 3]
        # mostly the latest tensor (a chain), sometimes an earlier one (a branch)
        return cands[-1] if rng.random() < 0.7 else cands[int(rng.integers(0, len(cands)))]

    n_ops = ri(3, 9)
    acts = ["linear", "linear", "relu", "relu6"]
    for _ in range(n_ops):
        x = pick4()
        H, W, C = shapes[x]
        kind = str(rng.choice(["conv", "conv", "conv", "dwconv", "dwconv", "pool", "pad", "binary", "binary",
                               "concat", "act", "reshape", "const", "padv2", "mean"]))
        if kind in ("conv", "dwconv"):
            for _try in range(20):
                kh, kw = ri(1, 5), ri(1, 5)
                pad = "same" if rng.random() < 0.5 else "valid"
                if rng.random() < 0.35:
                    s, d = (1, 1), (ri(1, 3), ri(1, 3))
                else:
                    s, d = (ri(1, 3), ri(1, 3)), (1, 1)
                oh, ow = _out(H, kh, s[0], d[0], pad), _out(W, kw, s[1], d[1], pad)
                if oh >= 1 and ow >= 1:
                    break
            else:
                continue
            if kind == "conv":
                groups = int(rng.choice([g for g in (1, 1, 1, 2, 3, 4) if C % g == 0 and C >= 2 * g] or [1]))
                filters = groups * ri(1, max(1, 16 // groups))
                x = add("conv", [x], {"filters": filters, "k": [kh, kw], "strides": list(s), "dilation": list(d),
                                      "padding": pad, "groups": groups, "act": str(rng.choice(acts)),
                                      "bias": bool(rng.random() < 0.85)}, (oh, ow, filters))
            else:
                mult = ri(1, 3) if C <= 8 else 1
                x = add("dwconv", [x], {"k": [kh, kw], "strides": list(s), "dilation": list(d), "padding": pad,
                                        "multiplier": mult, "act": str(rng.choice(acts))}, (oh, ow, C * mult))
        elif kind == "pool":
            ph, pw = ri(1, min(3, H)), ri(1, min(3, W))
            s = (ri(1, 2), ri(1, 2))
            pad = "same" if rng.random() < 0.5 else "valid"
            oh, ow = _out(H, ph, s[0], 1, pad), _out(W, pw, s[1], 1, pad)
            op = "maxpool" if rng.random() < 0.5 else "avgpool"
            x = add(op, [x], {"pool": [ph, pw], "strides": list(s), "padding": pad}, (oh, ow, C))
        elif kind == "pad":
            p = [[ri(0, 2), ri(0, 2)], [ri(0, 2), ri(0, 2)]]
            x = add("pad", [x], {"padding": p}, (H + sum(p[0]), W + sum(p[1]), C))
        elif kind == "binary":
            op = "add" if rng.random() < 0.6 else "mul"
            same = [i for i, s in enumerate(shapes) if s == (H, W, C) and i != x]
            r = rng.random()
            if same and r < 0.6:
                y = same[int(rng.integers(0, len(same)))]
            elif r < 0.85:  # broadcast: the global mean of a branch, [1, 1, C]
                y = add("gap", [x], {"keepdims": True}, (1, 1, C))
            else:  # a 1x1 convolution of the same tensor: a residual-style pair
                y = add("conv", [x], {"filters": C, "k": [1, 1], "strides": [1, 1], "dilation": [1, 1],
                                      "padding": "same", "groups": 1, "act": "linear", "bias": True}, (H, W, C))
            x = add(op, [x, y], {"act": str(rng.choice(["linear", "relu"]))}, (H, W, C))
        elif kind == "concat":
            same_hw = [i for i, s in enumerate(shapes) if len(s) == 3 and s[:2] == (H, W) and i != x]
            if not same_hw:
                f = ri(1, 8)
                y = add("conv", [x], {"filters": f, "k": [1, 1], "strides": [1, 1], "dilation": [1, 1],
                                      "padding": "same", "groups": 1, "act": "linear", "bias": True}, (H, W, f))
            else:
                y = same_hw[int(rng.integers(0, len(same_hw)))]
            x = add("concat", [x, y], {"axis": -1}, (H, W, C + shapes[y][2]))
        elif kind == "act":
            x = add("act", [x], {"fn": str(rng.choice(["relu", "relu6", "sigmoid", "tanh"]))}, (H, W, C))
        elif kind == "reshape":
            x = add("reshape", [x], {"shape": [W, H, C]}, (W, H, C))
        elif kind == "padv2":  # tf.pad with a constant that is not the zero point: PADV2
            p = [[ri(0, 2), ri(0, 2)], [ri(0, 2), ri(0, 2)]]
            x = add("padv2", [x], {"padding": p, "value": round(float(rng.normal(0, 1)), 2)},
                    (H + sum(p[0]), W + sum(p[1]), C))
        elif kind == "mean":  # a mean over one spatial axis, kept: MEAN over an inner axis
            axis = ri(1, 2)
            x = add("mean", [x], {"axis": axis}, (1, W, C) if axis == 1 else (H, 1, C))
        elif kind == "const":
            op = "addc" if rng.random() < 0.6 else "mulc"
            vals = np.round(rng.normal(0, 1, C), 3).tolist()
            x = add(op, [x], {"values": vals}, (H, W, C))
        if _macs(spec) > MAX_MACS:  # too big: stop growing
            spec.layers.pop()
            shapes.pop()
            break
    last = len(shapes) - 1
    outs = [last]
    H, W, C = shapes[last] if len(shapes[last]) == 3 else (1, 1, 1)
    head = rng.random()
    if head < 0.35:
        g = add("gap", [last], {"keepdims": False}, (C,))
        units = ri(2, 12)
        outs = [add("dense", [g], {"units": units, "act": str(rng.choice(["linear", "relu"])),
                                   "softmax": bool(rng.random() < 0.5)}, (units,))]
    elif head < 0.55 and H * W * C <= 2048:
        units = ri(2, 10)
        outs = [add("dense", [last], {"units": units, "act": "linear", "softmax": bool(rng.random() < 0.5),
                                      "flatten": True}, (units,))]
    if rng.random() < 0.3 and len(shapes) > 2:  # a second output: an earlier tensor
        extra = int(rng.integers(1, len(shapes) - 1))
        if extra not in outs:
            outs.append(extra)
    spec.outputs = outs
    return spec


# ---- Keras -------------------------------------------------------------------------------------------------

def _tf():
    tf_env()
    import tensorflow as tf  # heavy: imported when a network is built

    tf.get_logger().setLevel("ERROR")
    return tf


def build(spec: NetSpec):
    """The Keras model of a spec (weights He-normal from the seed, so that activations neither die nor saturate)."""
    tf = _tf()
    K = tf.keras.layers
    tf.keras.utils.set_random_seed(spec.seed % (1 << 31))
    he = "he_normal"
    x0 = K.Input(spec.input_shape, batch_size=1 if spec.static_batch else None)
    t = [x0]
    for L in spec.layers:
        a = L.args
        x = t[L.inputs[0]]
        act = a.get("act", "linear")
        if L.kind == "conv":
            y = K.Conv2D(a["filters"], a["k"], strides=a["strides"], dilation_rate=a["dilation"], padding=a["padding"],
                         groups=a["groups"], activation=None if act == "relu6" else act, use_bias=a["bias"],
                         kernel_initializer=he, bias_initializer="random_normal")(x)
            y = K.ReLU(6.0)(y) if act == "relu6" else y
        elif L.kind == "dwconv":
            fan = a["k"][0] * a["k"][1]
            y = K.DepthwiseConv2D(a["k"], strides=a["strides"], dilation_rate=a["dilation"], padding=a["padding"],
                                  depth_multiplier=a["multiplier"], activation=None if act == "relu6" else act,
                                  depthwise_initializer=tf.keras.initializers.RandomNormal(stddev=(2 / fan) ** 0.5),
                                  bias_initializer="random_normal")(x)
            y = K.ReLU(6.0)(y) if act == "relu6" else y
        elif L.kind == "maxpool":
            y = K.MaxPooling2D(a["pool"], strides=a["strides"], padding=a["padding"])(x)
        elif L.kind == "avgpool":
            y = K.AveragePooling2D(a["pool"], strides=a["strides"], padding=a["padding"])(x)
        elif L.kind == "pad":
            y = K.ZeroPadding2D(tuple(tuple(p) for p in a["padding"]))(x)
        elif L.kind in ("add", "mul"):
            y = (K.Add() if L.kind == "add" else K.Multiply())([x, t[L.inputs[1]]])
            y = K.ReLU()(y) if act == "relu" else y
        elif L.kind == "padv2":
            p = [[0, 0]] + a["padding"] + [[0, 0]]
            y = K.Lambda(lambda z, p=p, v=a["value"]: tf.pad(z, p, constant_values=v))(x)
        elif L.kind == "mean":
            y = K.Lambda(lambda z, ax=a["axis"]: tf.reduce_mean(z, axis=ax, keepdims=True))(x)
        elif L.kind in ("addc", "mulc"):
            v = tf.constant(np.asarray(a["values"], np.float32))
            y = K.Lambda(lambda z, v=v: z + v)(x) if L.kind == "addc" else K.Lambda(lambda z, v=v: z * v)(x)
        elif L.kind == "concat":
            y = K.Concatenate(axis=a["axis"])([x, t[L.inputs[1]]])
        elif L.kind == "act":
            fn = a["fn"]
            y = K.ReLU()(x) if fn == "relu" else K.ReLU(6.0)(x) if fn == "relu6" else K.Activation(fn)(x)
        elif L.kind == "gap":
            y = K.GlobalAveragePooling2D(keepdims=a["keepdims"])(x)
        elif L.kind == "reshape":
            y = K.Reshape(tuple(a["shape"]))(x)
        elif L.kind == "dense":
            if a.get("flatten"):
                x = K.Flatten()(x)
            y = K.Dense(a["units"], activation=act, kernel_initializer=he, bias_initializer="random_normal")(x)
            y = K.Softmax()(y) if a.get("softmax") else y
        else:
            raise TsError(f"random network {spec.seed}: unknown layer kind {L.kind}")
        t.append(y)
    return tf.keras.Model(x0, [t[i] for i in spec.outputs])


def convert(spec: NetSpec) -> bytes:
    tf = _tf()
    model = build(spec)
    rng = np.random.default_rng(spec.seed + 1)
    shape = spec.input_shape

    def rep():
        for _ in range(24):
            yield [rng.standard_normal((1, *shape)).astype(np.float32)]

    with quiet():  # the converter prints its saved-model summary
        return keras_to_int8(tf, model, rep, float_io=spec.float_io)


def model_path(seed: int, folder: Path) -> Path:
    """The converted .tflite of `seed` in `folder` (converted once, keyed by this module's source)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"randnet-{seed}-{SOURCE_KEY}.tflite"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            blob = convert(network(seed))
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(blob)
            tmp.replace(path)
    return path


# ---- the differential check --------------------------------------------------------------------------------

def inputs_for(model: Path, n: int, seed: int) -> list[np.ndarray]:
    g = read_tflite(model)
    t = g.t(g.inputs[0])
    rng = np.random.default_rng(seed)
    if t.dtype == "float32":
        return [rng.standard_normal(t.shape).astype(np.float32) for _ in range(n)]
    return [rng.integers(-128, 128, size=t.shape, dtype=np.int8) for _ in range(n)]


def tflm_reference(model: Path, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """tflite_micro's outputs, a new interpreter per input (on a model whose BATCH_TO_SPACE_ND TFLM writes only in
    part, the outputs depend on what the previous invoke left in the arena) with an arena large enough to be freshly
    mapped, zeroed memory."""
    n_out = len(read_tflite(model).outputs)
    data = Path(model).read_bytes()
    res = []
    for x in inputs:
        it = tflm_interpreter(data, 64 << 20)
        it.set_input(x, 0)
        it.invoke()
        res.append([np.asarray(it.get_output(j)).copy() for j in range(n_out)])
    return res


@dataclass
class CheckResult:
    seed: int
    board: str
    ok: bool
    message: str = ""
    skipped: str = ""  # why the network was not compared (TFLM leaves part of it undefined)


def board_for(seed: int) -> str:
    """The QEMU board of a seed: the Cortex-M55 for one seed in four, else the Cortex-M4."""
    return "qemu-an547" if seed % 4 == 3 else "qemu-an386"


def check(seed: int, folder: Path, workdir: Path, *, boards: tuple[str, ...] | None = None, n_inputs: int = 3,
          kernels: str = "auto") -> list[CheckResult]:
    """Run network `seed` on each board and compare with tflite_micro; on a difference the message holds the seed,
    the network and `tinyscene compare`'s first difference."""

    spec = network(seed)
    model = model_path(seed, folder)
    try:
        undefined = compile_graph(read_tflite(model)).warnings()
    except TsError as e:
        if "float32: a float model or float op" in str(e):  # not an int8 network: refused as it should be
            return [CheckResult(seed, "-", True, skipped=f"the converter left a float op ({e})")]
        return [CheckResult(seed, "-", False, f"seed {seed}: the compiler refuses it: {e}\n{spec.describe()}")]
    if undefined:  # tflite_micro's own outputs depend on its process there: nothing to compare
        return [CheckResult(seed, "-", True, skipped=undefined[0])]
    inputs = inputs_for(model, n_inputs, seed)
    ref = tflm_reference(model, inputs)
    results = []
    for b in boards or ("host", board_for(seed)):
        wd = Path(workdir) / f"{seed}-{b}"
        try:
            outs, _ = run(model, load_board(b), inputs, kernels=kernels, workdir=wd, timeout=300)
        except TsError as e:
            results.append(CheckResult(seed, b, False, f"{spec.describe()}\n{b}: {e}"))
            continue
        bad = _first_mismatch(outs, ref)
        if bad is None:
            results.append(CheckResult(seed, b, True))
            continue
        k, j, msg = bad
        detail = _compare_detail(model, b, inputs[k], wd / "compare", kernels)
        results.append(CheckResult(seed, b, False, f"seed {seed} on {b}: input {k} output {j}: {msg}\n"
                                   f"{spec.describe()}\nmodel: {model}\ncompare: {detail}\n"
                                   f"reproduce: tinyscene randnet --seed {seed} --boards {b}"))
    return results


def _first_mismatch(outs: list, ref: list) -> tuple[int, int, str] | None:
    for k, (got, want) in enumerate(zip(outs, ref)):
        got = got if isinstance(got, list) else [got]
        for j, (a, r) in enumerate(zip(got, want)):
            a = np.asarray(a).reshape(r.shape)
            d = np.argwhere(a != r)
            if d.size:
                i = tuple(int(v) for v in d[0])
                return k, j, (f"{len(d)} of {r.size} values differ from tflite_micro, first at {list(i)}: "
                              f"{a[i]} vs {r[i]}")
    return None


def _compare_detail(model: Path, board: str, x: np.ndarray, workdir: Path, kernels: str) -> str:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        save_npy(workdir / "x.npy", x)
        return compare_with_tflm(model, board, workdir / "x.npy", workdir=workdir, kernels=kernels).text()
    except TsError as e:
        return f"(compare failed: {e})"
