"""Running clips on the classifier firmware: one session per firmware run.

    StreamSession   over a byte stream (QEMU UART, a real board's serial port, the host build's pipes):
                    stop-and-wait frames, one clip at a time, answers checked as they come.
    run_batch       over semihosting files (QEMU): every request frame goes into one file, the
                    firmware runs once and writes every answer into another file.

Both return ClipResult per clip (tinyscene.target.protocol) and raise ProtocolError with a clear
message when the device hangs, resets, dies or sends garbage.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tinyscene.errors import TsError
from tinyscene.target import protocol as P
from tinyscene.target.protocol import (
    ClipCollector,
    ClipResult,
    DeviceInfo,
    ProtocolError,
)
from tinyscene.target.qemu import run_firmware


@dataclass
class ClipRequest:
    clip_id: int
    pcm: np.ndarray  # int16 [channels, samples]
    features: bool = True
    streaming: bool = False
    every: int = 0  # streaming: hops between classifications (0: the model's frames)

    @property
    def flags(self) -> int:
        return (P.CLIP_FEATURES if self.features else 0) | (P.CLIP_STREAMING if self.streaming else 0)

    def interleaved(self) -> np.ndarray:
        """[samples, channels] as the device takes it."""
        return np.ascontiguousarray(np.asarray(self.pcm, dtype=np.int16).T)


def feature_bytes(info: DeviceInfo, req: ClipRequest) -> int:
    if req.streaming:
        frames = 1 + req.pcm.shape[1] // info.hop_length
        return frames * info.n_mels * info.channels
    return info.feature_bytes


def check_info(info: DeviceInfo, bundle_id: int | None, what: str) -> None:
    if bundle_id is not None and info.bundle_id != bundle_id:
        raise ProtocolError(f"{what} runs another bundle (id 0x{info.bundle_id:08x}, expected 0x{bundle_id:08x}): "
                            "flash the firmware of this bundle first (tinyscene flash)")


class StreamSession:
    """The host side of a classifier firmware on a byte stream."""

    def __init__(self, transport, *, what: str = "the device", ack_timeout: float = 10.0,
                 clip_timeout: float = 300.0, retries: int = 5):
        self.link = P.Link(transport, ack_timeout=ack_timeout, retries=retries)
        self.what = what
        self.clip_timeout = clip_timeout
        self.info: DeviceInfo | None = None

    def wait_info(self, timeout: float, ping: bool = False) -> DeviceInfo:
        """The device's INFO: its boot announcement, or (ping=True) the answer to a PING."""
        if ping:
            self.link.send(P.PING)
        deadline = time.monotonic() + timeout
        while True:
            f = self.link.recv(max(deadline - time.monotonic(), 0.01))
            if f.type == P.INFO:
                info = DeviceInfo.decode(f.payload)
                if ping and not info.reply:
                    continue  # its boot announcement: the answer to our PING follows
                self.info = info
                return info
            if f.type == P.STATUS:
                code = f.payload[4] if len(f.payload) > 4 else 0
                raise ProtocolError(f"{self.what} failed to start: status {code} "
                                    f"({f.payload[5:].decode(errors='replace')})")
            # anything else before INFO is left over from an earlier session: skip it

    def run_clip(self, req: ClipRequest, on_frame: Callable[[P.Frame], None] | None = None) -> ClipResult:
        info = self.info
        assert info is not None, "wait_info first"
        coll = ClipCollector(req.clip_id, feature_bytes(info, req))
        for ftype, payload in P.clip_request(req.interleaved(), req.clip_id, req.flags, req.every, info.max_payload):
            self.link.send(ftype, payload)
            while self.link._pending:  # the device answered before our last frame was acknowledged
                coll.add(self.link.recv(0))
        while not coll.done:
            f = self.link.recv(self.clip_timeout)
            if on_frame:
                on_frame(f)
            coll.add(f)
        return coll.result

    def debug(self, action: int, count: int = 1) -> None:
        self.link.send(P.DEBUG, P.debug_payload(action, count))

    def bye(self) -> None:
        self.link.send(P.BYE)


def request_stream(reqs: Sequence[ClipRequest], max_payload: int) -> bytes:
    """The semihosting request file: every clip's frames back to back (no ACKs on a file)."""
    out = bytearray()
    seq = 0
    for req in reqs:
        for ftype, payload in P.clip_request(req.interleaved(), req.clip_id, req.flags, req.every, max_payload):
            out += P.encode_frame(ftype, seq, payload)
            seq = (seq + 1) & 0xFF
    out += P.encode_frame(P.BYE, seq, b"")
    return bytes(out)


def parse_batch(data: bytes, reqs: Sequence[ClipRequest]) -> tuple[DeviceInfo, list[ClipResult]]:
    """The answers of a semihosting run: INFO, then each clip's frames up to its STATUS."""
    frames = list(P.decode_stream(data, strict=True))
    if not frames or frames[0].type != P.INFO:
        raise ProtocolError("the device wrote no INFO frame (it did not start)")
    info = DeviceInfo.decode(frames[0].payload)
    results: list[ClipResult] = []
    i = 1
    for req in reqs:
        coll = ClipCollector(req.clip_id, feature_bytes(info, req))
        while not coll.done:
            if i >= len(frames):
                raise ProtocolError(f"the device's answers end during clip {req.clip_id} "
                                    f"({len(results)} of {len(reqs)} clips complete)")
            f = frames[i]
            i += 1
            coll.add(f)
        results.append(coll.result)
    return info, results


def run_batch(board, elf: Path, reqs: Sequence[ClipRequest], workdir: Path, *, timeout: float,
              max_payload: int = 4096) -> tuple[DeviceInfo, list[ClipResult]]:
    """Run every clip in one firmware run over semihosting files."""

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    req_file, resp_file = workdir / "request.bin", workdir / "response.bin"
    req_file.write_bytes(request_stream(reqs, max_payload))
    resp_file.unlink(missing_ok=True)
    try:
        res = run_firmware(board, elf, ["--in", req_file.name, "--out", resp_file.name], cwd=workdir, timeout=timeout)
    except TsError as e:
        raise ProtocolError(str(e)) from None
    if res.fault:
        raise ProtocolError(f"{board.name}: classifier firmware fault: {res.fault}")
    data = resp_file.read_bytes() if resp_file.exists() else b""
    try:
        info, results = parse_batch(data, reqs)
    except ProtocolError as e:
        tail = res.output.strip()[-300:].replace("\n", " | ")
        raise ProtocolError(f"{board.name}: {e} (exit code {res.exit_code}"
                            + (f"; console: {tail})" if tail else ")")) from None
    if res.exit_code != 0:
        raise ProtocolError(f"{board.name}: classifier firmware exited with code {res.exit_code}: "
                            + res.output.strip()[-300:])
    return info, results
