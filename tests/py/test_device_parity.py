"""The whole classifier on the device vs Python: features bit-exact with the host build of the C
front-end, logits bit-exact with the tflite_micro interpreter, on the host build and on the three QEMU
boards over semihosting files and over the emulated UART; streaming mode; a device that resets or
hangs mid-run; nothing written when a run fails."""
from __future__ import annotations

import json

import device_bundle as DB
import numpy as np
import pytest

from tinyscene.deploy.parity import ParityClip, parity_run
from tinyscene.errors import TsError
from tinyscene.target import protocol as P

CFG = DB.tiny_config(0.25)  # 16 kHz, 512-point FFT, hop 512, 32 mels, 2 channels, 0.25 s = 8 frames
# (short clips keep the emulated UART, about 15 KB/s into the guest, quick)


@pytest.fixture(scope="session")
def bundle():
    return DB.cached_bundle(CFG)


@pytest.fixture(scope="session")
def clips():
    return [ParityClip(f"clip{k}", DB.synth_pcm(CFG, k % 3, 100 + k), k % 3) for k in range(5)]


def _check_report(rep: dict, n: int) -> None:
    assert rep["clips"] == n
    assert rep["features_bitexact"] == 1 and rep["logits_bitexact"] == 1, rep["first_divergence"]
    assert rep["agreement"] == 1
    assert rep["first_divergence"] is None
    assert rep["device_accuracy"] == rep["python_accuracy"]


def test_parity_host_build_files_and_pipes(bundle, clips, tmp_path):
    for transport in ("semihosting", "uart"):  # on the host build: files / stdin-stdout
        out = tmp_path / transport
        rep = parity_run(bundle, "host", clips, transport=transport, out_dir=out, progress=False)
        _check_report(rep, 5)
        saved = json.loads((out / "parity.json").read_text())
        for key in ("clips", "features_bitexact", "logits_bitexact", "agreement", "device_accuracy"):
            assert saved[key] == rep[key]
        assert "| host | 5 | 100.0 % | 100.0 % |" in (out / "parity.md").read_text()


QEMU = ["qemu-an386", "qemu-an500", "qemu-an547"]


@pytest.mark.qemu
@pytest.mark.parametrize("transport", ["semihosting", "uart"])
@pytest.mark.parametrize("board", QEMU)
def test_parity_qemu(board, transport, bundle, clips, tmp_path):
    rep = parity_run(bundle, board, clips, transport=transport, out_dir=tmp_path, progress=False)
    _check_report(rep, 5)
    c = rep["counts"]
    assert c["unit"] == "instructions"
    assert c["frontend_per_hop"]["mean"] > 1000 and c["model_per_invoke"]["mean"] > 1000
    assert 0 < rep["stack_high_water"] < 32 * 1024
    assert rep["memory"]["ram_total"] > rep["memory"]["arena"] > 0
    if transport == "uart":
        assert rep["protocol"]["resent"] == 0 and rep["protocol"]["crc_errors"] == 0


@pytest.mark.qemu
def test_instruction_counts_repeat(bundle, clips, tmp_path):
    """The same clip twice costs the same instructions (QEMU -icount), to the counter's resolution: one
    SysTick (40 instructions on mps2) per measurement, the front-end being measured once per hop."""
    same = [clips[1], ParityClip("again", clips[1].pcm, clips[1].label)]
    rep = parity_run(bundle, "qemu-an386", same, out_dir=None, progress=False)
    a, b = (row["counts"] for row in rep["per_clip"])
    tick = rep["counts"]["per_tick"]
    assert abs(a["fe_ticks"] - b["fe_ticks"]) <= tick * a["hops"]
    assert abs(a["model_ticks"] - b["model_ticks"]) <= tick
    assert a["fe_ticks"] > 100 * tick * a["hops"]  # the resolution is far below the figure


def _stream(k: int = 3) -> np.ndarray:
    return np.concatenate([DB.synth_pcm(CFG, i % 3, 300 + i) for i in range(k)], axis=1)


def test_streaming_host(bundle, tmp_path):
    """Hop by hop into the feature ring, a classification every 4 hops once it is full: every window's
    logits equal tflite_micro on the same frames of the whole stream's features."""
    pcm = _stream(3)  # 0.75 s: 24 frames, windows of 8 ending at 8, 12, 16, 20, 24
    rep = parity_run(bundle, "host", [ParityClip("stream", pcm)], transport="uart", out_dir=tmp_path,
                     stream_every=4, progress=False)
    assert rep["features_bitexact"] == 1 and rep["logits_bitexact"] == 1 and rep["agreement"] == 1
    assert len(rep["per_clip"][0]["device_logits"]) == 5
    assert rep["mode"] == "streaming every 4 hops"


@pytest.mark.qemu
def test_streaming_qemu(bundle, tmp_path):
    rep = parity_run(bundle, "qemu-an547", [ParityClip("stream", _stream(3))], out_dir=tmp_path,
                     stream_every=5, progress=False)
    assert rep["features_bitexact"] == 1 and rep["logits_bitexact"] == 1
    assert len(rep["per_clip"][0]["device_logits"]) == 4  # windows ending at 8, 13, 18, 23 of 24 frames


def test_parity_cli_with_data_folder(bundle, tmp_path, run_cli):
    data = tmp_path / "data"
    rc, _, err = run_cli("data", "synth", "--out", data, "--clips-per-scene", 3, "--seconds", 0.25, "--seed", 2)
    assert rc == 0, err
    rc, out, err = run_cli("parity", "--bundle", bundle, "--board", "host", "--data", data, "--n", 3,
                           "--out", tmp_path / "p")
    assert rc == 0, err
    rep = json.loads((tmp_path / "p" / "parity.json").read_text())
    assert rep["clips"] == 3 and rep["labelled"] == 3 and rep["device_accuracy"] is not None
    assert "features bit-exact" in out


def test_parity_cli_errors(bundle, tmp_path, run_cli):
    rc, _, err = run_cli("parity", "--bundle", tmp_path / "nope", "--board", "host", "--out", tmp_path / "o")
    assert rc == 2 and "no such bundle folder" in err
    rc, _, err = run_cli("parity", "--bundle", bundle, "--board", "host", "--audio", tmp_path / "x.wav",
                         "--out", tmp_path / "o")
    assert rc == 2 and "x.wav: no such audio file" in err
    rc, _, err = run_cli("parity", "--bundle", bundle, "--board", "nucleo-l4r5zi", "--transport", "semihosting",
                         "--out", tmp_path / "o")
    assert rc == 2 and "speaks uart, not semihosting" in err
    assert not (tmp_path / "o").exists()


def test_wrong_clip_length_is_refused(bundle):
    short = ParityClip("short", DB.synth_pcm(CFG, 0, 1, seconds=0.3))
    with pytest.raises(TsError, match="short: 4800 samples give 10 frames; the model takes 8"):
        parity_run(bundle, "host", [short], progress=False)


def test_changed_bundle_is_refused(bundle, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    fj = copy / "frontend.json"
    fj.write_text(fj.read_text().replace('"n_mels": 32', '"n_mels": 31'))
    with pytest.raises(TsError, match="does not match its sha256"):
        parity_run(copy, "host", [DB.synth_pcm(CFG, 0, 1)], progress=False)


def test_failed_run_writes_nothing(bundle, clips, tmp_path, monkeypatch):
    import tinyscene.deploy.parity as parity

    def dies(*a, **k):
        raise P.ProtocolError("no answer from the device within 1 s: it hangs or reset")

    monkeypatch.setattr(parity, "run_on_device", dies)
    with pytest.raises(P.ProtocolError, match="hangs or reset"):
        parity_run(bundle, "host", clips, out_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def _run_partly(session, pcm, clip_id: int, frames_before: int, action: int):
    """Send a clip's first frames, then a DEBUG action, then the rest (what run_clip does, interrupted)."""
    coll = P.ClipCollector(clip_id, session.info.feature_bytes)
    reqs = list(P.clip_request(np.ascontiguousarray(pcm.T), clip_id, P.CLIP_FEATURES, 0, session.info.max_payload))
    for k, (ftype, payload) in enumerate(reqs):
        if k == frames_before:
            session.debug(action)
        session.link.send(ftype, payload)
        while session.link._pending:
            coll.add(session.link.recv(0))
    while not coll.done:
        coll.add(session.link.recv(session.clip_timeout))
    return coll.result


@pytest.mark.qemu
def test_device_resets_or_hangs_mid_clip(bundle, clips):
    """QEMU UART: a reset in the middle of a clip is reported as such (the firmware's boot INFO comes
    again); a hang is a timeout naming the device; both within seconds, no traceback."""
    from tinyscene.deploy.classifier import build_classifier
    from tinyscene.deploy.session import ClipRequest, StreamSession
    from tinyscene.target.transport import start_uart_device

    fw = build_classifier(bundle, "qemu-an386")
    pcm = clips[0].pcm
    with start_uart_device(fw.board, fw.elf, ["--uart"]) as dev:
        s = StreamSession(dev.transport, ack_timeout=2, clip_timeout=20)
        s.wait_info(30)
        assert s.run_clip(ClipRequest(1, pcm)).status == 0
        with pytest.raises(P.ProtocolError, match="restarted during clip 2"):
            _run_partly(s, pcm, 2, 3, P.DEBUG_RESET)
    with start_uart_device(fw.board, fw.elf, ["--uart"]) as dev:
        s = StreamSession(dev.transport, ack_timeout=0.5, clip_timeout=5, retries=2)
        s.wait_info(30)
        with pytest.raises(P.ProtocolError, match="did not acknowledge"):
            _run_partly(s, pcm, 1, 2, P.DEBUG_HANG)


def test_device_dies_mid_clip_host(bundle, clips):
    from tinyscene.deploy.classifier import build_classifier
    from tinyscene.deploy.session import StreamSession
    from tinyscene.target.transport import start_uart_device

    fw = build_classifier(bundle, "host")
    with start_uart_device(fw.board, fw.elf, ["--uart"]) as dev:
        s = StreamSession(dev.transport, ack_timeout=0.5, clip_timeout=5, retries=2)
        s.wait_info(10)
        with pytest.raises(P.ProtocolError, match="the program exited"):
            _run_partly(s, clips[0].pcm, 1, 2, P.DEBUG_EXIT)


def test_semihosting_response_cut_short_is_clear(bundle, clips):
    """A response file that ends mid-clip (the firmware was killed) is a clear error, not a partial result."""
    from tinyscene.deploy.session import ClipRequest, parse_batch

    reqs = [ClipRequest(1, clips[0].pcm), ClipRequest(2, clips[1].pcm)]
    from tinyscene.deploy.classifier import load_bundle

    b = load_bundle(bundle)
    info = P.DeviceInfo(1, "aot", 4096, b.bundle_id, 16000, 512, 512, 32, 2, 0, 8, 3, 512, 0, 0, 0, 0, 0, 0, "x")
    data = P.encode_frame(P.INFO, 0, info.encode()) + P.encode_frame(P.LOGITS, 1, bytes(12))[:9]
    with pytest.raises(P.ProtocolError, match="middle of a frame"):
        parse_batch(data, reqs)
    data = P.encode_frame(P.INFO, 0, info.encode())
    with pytest.raises(P.ProtocolError, match="end during clip 1"):
        parse_batch(data, reqs)


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["host", "qemu-an386"])
def test_parity_tflm_runtime(board, bundle, clips, tmp_path):
    """The same classifier app with TensorFlow Lite Micro + CMSIS-NN as the model runtime."""
    rep = parity_run(bundle, board, clips[:3], runtime="tflm", out_dir=tmp_path, progress=False)
    _check_report(rep, 3)
    assert rep["kernels"] == "cmsis-nn" and rep["device_info"]["runtime"] == "tflm"


@pytest.mark.qemu
@pytest.mark.parametrize("board", QEMU)
def test_parity_benchmark_50_clips(board, bundle, tmp_path):
    """The parity benchmark: 50 clips (silence, full scale, tones, clipped, quiet passages among them)
    bit-exact on each QEMU board."""
    clips = [ParityClip(f"b{k:02d}", DB.synth_pcm(CFG, k % 3, 1000 + k), k % 3) for k in range(46)]
    n = CFG.clip_samples
    t = np.arange(n) / CFG.sample_rate
    tone = np.round(32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    clips += [ParityClip("silence", np.zeros((2, n), np.int16), None),
              ParityClip("full-scale", np.where(np.arange(n) % 2, 32767, -32768).astype(np.int16)[None].repeat(2, 0), None),
              ParityClip("tone", np.stack([tone, tone]), None),
              ParityClip("quiet", (tone // 1000).astype(np.int16)[None].repeat(2, 0), None)]
    rep = parity_run(bundle, board, clips, out_dir=tmp_path, progress=False)
    _check_report(rep, 50)


def test_first_divergence_is_reported(bundle, clips, tmp_path, monkeypatch, run_cli):
    """A Python side that differs (here: made to differ on purpose) is reported at the first stage,
    clip and index that differ, with both values; the command exits 1."""
    import tinyscene.deploy.parity as parity_module
    from tinyscene.frontend import FixedFrontend

    real_q = FixedFrontend.quantize

    def off_by_one(self, L, quant):
        q = np.array(real_q(self, L, quant))
        q[3, 2, 1] = q[3, 2, 1] + 1 if q[3, 2, 1] < 127 else 126
        return q

    monkeypatch.setattr(FixedFrontend, "quantize", off_by_one)
    rep = parity_run(bundle, "host", clips[:2], out_dir=tmp_path / "f", progress=False)
    fd = rep["first_divergence"]
    assert rep["features_bitexact"] == 0 and fd["stage"] == "features" and fd["clip"] == "clip0"
    assert fd["index"] == {"mel": 3, "frame": 2, "channel": 1} and abs(fd["device"] - fd["python"]) == 1
    monkeypatch.setattr(FixedFrontend, "quantize", real_q)

    real_run = parity_module.run_tflm

    def skewed(data, q, shape=None):
        out = real_run(data, q, shape)
        out[:, 1] = np.where(out[:, 1] < 127, out[:, 1] + 1, 126)
        return out

    monkeypatch.setattr(parity_module, "run_tflm", skewed)
    rep = parity_run(bundle, "host", clips[:2], out_dir=tmp_path / "l", progress=False)
    fd = rep["first_divergence"]
    assert rep["features_bitexact"] == 1 and rep["logits_bitexact"] == 0
    assert fd["stage"] == "logits" and fd["index"] == [0, 1]
    # the layer-by-layer comparison of the device's model with tflite_micro finds no layer at fault
    assert fd["layer"]["first_difference"] is None, fd["layer"]
    rc, out, _ = run_cli("parity", "--bundle", bundle, "--board", "host", "--n", 1, "--out", tmp_path / "c")
    assert rc == 1 and "differs from Python: first at stage logits" in out


@pytest.mark.parametrize("board", ["host", pytest.param("qemu-an386", marks=pytest.mark.qemu)])
def test_host_pings_while_the_device_announces_itself(board, bundle, clips):
    """What a real board sees when the host opens its port: the firmware's boot INFO is still waiting for
    an ACK when the PING arrives. The PING is answered, the clip runs, nothing is taken for a reset."""
    from tinyscene.deploy.classifier import build_classifier
    from tinyscene.deploy.session import ClipRequest, StreamSession
    from tinyscene.target.transport import start_uart_device

    fw = build_classifier(bundle, board)
    with start_uart_device(fw.board, fw.elf, ["--uart"]) as dev:
        s = StreamSession(dev.transport, ack_timeout=2, clip_timeout=20)
        info = s.wait_info(30, ping=True)
        assert info.reply == 1 and info.bundle_id == fw.bundle.bundle_id
        r = s.run_clip(ClipRequest(1, clips[0].pcm))
        assert r.status == 0 and r.features is not None
        s.bye()
        assert dev.wait(20) == 0
