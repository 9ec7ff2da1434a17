"""Host side of the host <-> device framed protocol (the device side is firmware/src/rt/ts_proto_*.c,
the format is documented in firmware/include/ts/proto.h).

Frame: sync A5 5A | type u8 | seq u8 | len u16 | hcrc u16 | payload | crc u32 (little-endian);
hcrc = low 16 bits of crc32(type..len), crc = crc32(type .. payload end), crc32 = zlib.crc32.

On a byte stream (`Link`, UART / serial port / pipe) every data frame is answered by ACK or NAK and
resent on NAK or a timeout (stop-and-wait, per-direction sequence numbers, duplicates re-ACKed and
dropped). On a reliable channel (semihosting files) frames follow each other without ACKs and a bad
CRC is a clear error.
"""
from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from tinyscene.errors import TsError

VERSION = 1
SYNC = b"\xa5\x5a"
HEADER_BYTES = 8
CRC_BYTES = 4
OVERHEAD = HEADER_BYTES + CRC_BYTES
MAX_LEN = 0xFFFF

# Frame types (must equal TS_PROTO_TYPE_LIST in firmware/include/ts/proto.h; a test checks it).
ACK, NAK = 0x01, 0x02
PING, CLIP_BEGIN, PCM, BYE, DEBUG = 0x10, 0x11, 0x12, 0x13, 0x14
INFO, FEATURES, LOGITS, COUNTS, STACK, STATUS, LOG = 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86
TYPE_NAMES = {ACK: "ACK", NAK: "NAK", PING: "PING", CLIP_BEGIN: "CLIP_BEGIN", PCM: "PCM", BYE: "BYE",
              DEBUG: "DEBUG", INFO: "INFO", FEATURES: "FEATURES", LOGITS: "LOGITS", COUNTS: "COUNTS",
              STACK: "STACK", STATUS: "STATUS", LOG: "LOG"}

# DEBUG actions and CLIP_BEGIN flags (proto.h)
DEBUG_CORRUPT, DEBUG_HANG, DEBUG_RESET, DEBUG_EXIT = 1, 2, 3, 4
CLIP_FEATURES, CLIP_STREAMING = 1, 2

# COUNTS stage ids (firmware/src/rt/app_classifier.c)
STAGES = {1: "fe_ticks", 2: "fe_max_hop_ticks", 3: "model_ticks", 4: "model_max_ticks", 5: "hops",
          6: "invokes", 7: "clip_ticks", 8: "hop_max_ticks", 9: "finish_ticks", 10: "heap_high_water"}
RUNTIME_NAMES = {0: "aot", 1: "tflm"}


class ProtocolError(TsError):
    """The device broke the protocol, stopped answering, reset, or a frame stayed corrupted."""


def header(ftype: int, seq: int, length: int) -> bytes:
    if not 0 <= length <= MAX_LEN:
        raise ValueError(f"frame payload of {length} bytes (max {MAX_LEN})")
    body = struct.pack("<BBH", ftype & 0xFF, seq & 0xFF, length)
    return SYNC + body + struct.pack("<H", zlib.crc32(body) & 0xFFFF)


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    h = header(ftype, seq, len(payload))
    return h + bytes(payload) + struct.pack("<I", zlib.crc32(payload, zlib.crc32(h[2:])))


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, f"0x{self.type:02x}")


@dataclass(frozen=True)
class BadFrame:
    """A frame whose header was good but whose payload CRC was wrong (or was longer than allowed)."""
    type: int
    seq: int
    reason: str  # "crc" | "too-long"


class FrameParser:
    """Incremental parser, the same state machine as ts_proto_parse(): feed bytes, get events.

    A header whose CRC fails is dropped and its bytes rescanned for the next sync pair, so a
    corrupted length never swallows the following frames.
    """

    def __init__(self, max_len: int = MAX_LEN):
        self.max_len = max_len
        self.n_bad_header = 0
        self._reset()

    def _reset(self) -> None:
        self.state = 0  # 0 sync0, 1 sync1, 2 header, 3 payload, 4 crc
        self._hdr = bytearray()
        self._payload = bytearray()
        self._tail = bytearray()
        self._type = self._seq = self._len = 0

    def reset(self) -> None:
        self._reset()

    @property
    def mid_frame(self) -> bool:
        return self.state >= 2

    def want(self) -> int:
        """Bytes needed next: reading exactly this many never reads past the current frame."""
        if self.state == 2:
            return HEADER_BYTES - len(self._hdr)
        if self.state == 3:
            return self._len - len(self._payload)
        if self.state == 4:
            return CRC_BYTES - len(self._tail)
        return 1

    def _scan(self, b: int) -> None:
        if self.state == 0:
            if b == SYNC[0]:
                self.state = 1
        elif self.state == 1:
            if b == SYNC[1]:
                self._hdr = bytearray(SYNC)
                self.state = 2
            elif b != SYNC[0]:
                self.state = 0
        else:
            self._hdr.append(b)

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        events: list[Frame | BadFrame] = []
        i, n = 0, len(data)
        mv = memoryview(data)
        while i < n:
            if self.state <= 1:
                if self.state == 0:  # fast skip to the next possible sync byte
                    j = bytes(mv[i:]).find(SYNC[:1])
                    if j < 0:
                        break
                    i += j
                self._scan(data[i])
                i += 1
            elif self.state == 2:
                k = min(HEADER_BYTES - len(self._hdr), n - i)
                self._hdr += mv[i:i + k]
                i += k
                if len(self._hdr) == HEADER_BYTES:
                    self._header_done()
            elif self.state == 3:
                k = min(self._len - len(self._payload), n - i)
                self._payload += mv[i:i + k]
                i += k
                if len(self._payload) == self._len:
                    self.state = 4
            else:
                k = min(CRC_BYTES - len(self._tail), n - i)
                self._tail += mv[i:i + k]
                i += k
                if len(self._tail) == CRC_BYTES:
                    events.append(self._frame_done())
        return events

    def _header_done(self) -> None:
        h = bytes(self._hdr)
        if zlib.crc32(h[2:6]) & 0xFFFF != struct.unpack_from("<H", h, 6)[0]:
            self.n_bad_header += 1
            self._reset()
            for b in h[2:]:
                self._scan(b)
            return
        self._type, self._seq, self._len = struct.unpack_from("<BBH", h, 2)
        self._payload = bytearray()
        self._tail = bytearray()
        self.state = 3 if self._len else 4

    def _frame_done(self) -> Frame | BadFrame:
        h, payload, tail = bytes(self._hdr), bytes(self._payload), bytes(self._tail)
        ftype, seq, length = self._type, self._seq, self._len
        self._reset()
        if length > self.max_len:
            return BadFrame(ftype, seq, "too-long")
        if struct.unpack("<I", tail)[0] != zlib.crc32(payload, zlib.crc32(h[2:])):
            return BadFrame(ftype, seq, "crc")
        return Frame(ftype, seq, payload)


def decode_stream(data: bytes, strict: bool = True) -> Iterator[Frame]:
    """Frames of a reliable channel's byte stream (a semihosting response file). With `strict`, a
    corrupted frame or trailing partial frame is a ProtocolError."""
    parser = FrameParser()
    for ev in parser.feed(data):
        if isinstance(ev, BadFrame):
            if strict:
                raise ProtocolError(f"corrupted {TYPE_NAMES.get(ev.type, hex(ev.type))} frame "
                                    f"(seq {ev.seq}, {ev.reason}) from the device")
            continue
        yield ev
    if strict and parser.mid_frame:
        raise ProtocolError("the device's output ends in the middle of a frame (it stopped or was killed)")


# ---------------------------------------------------------------------------------------------
# Payloads

@dataclass(frozen=True)
class DeviceInfo:
    version: int
    runtime: str
    max_payload: int
    bundle_id: int
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    channels: int
    reply: int  # 0: sent at boot, 1: the answer to a PING
    n_frames: int
    n_classes: int
    feature_bytes: int
    fe_state_bytes: int
    arena_bytes: int
    ring_bytes: int
    pcm_bytes: int
    stack_size: int
    clock_hz: int
    board: str

    _FMT = "<BBHIIHHHBBHHIIIIIII"

    def encode(self) -> bytes:
        rt = {v: k for k, v in RUNTIME_NAMES.items()}[self.runtime]
        return struct.pack(self._FMT, self.version, rt, self.max_payload, self.bundle_id, self.sample_rate,
                           self.n_fft, self.hop_length, self.n_mels, self.channels, self.reply, self.n_frames,
                           self.n_classes, self.feature_bytes, self.fe_state_bytes, self.arena_bytes,
                           self.ring_bytes, self.pcm_bytes, self.stack_size, self.clock_hz) + self.board.encode()

    @classmethod
    def decode(cls, payload: bytes) -> "DeviceInfo":
        n = struct.calcsize(cls._FMT)
        if len(payload) < n:
            raise ProtocolError(f"INFO frame of {len(payload)} bytes (expected >= {n})")
        v = struct.unpack_from(cls._FMT, payload)
        if v[0] != VERSION:
            raise ProtocolError(f"device speaks protocol version {v[0]}, this host {VERSION}: rebuild the firmware")
        return cls(v[0], RUNTIME_NAMES.get(v[1], f"runtime-{v[1]}"), *v[2:], board=payload[n:].decode(errors="replace"))


def clip_begin_payload(clip_id: int, n_samples: int, flags: int, every: int = 0) -> bytes:
    return struct.pack("<IIBxH", clip_id, n_samples, flags, every)


def debug_payload(action: int, count: int = 1) -> bytes:
    return struct.pack("<BB", action, count)


@dataclass
class Classification:
    window: int  # 0 for a whole clip; the index of the classification in streaming mode
    hop: int  # hops processed when it was made
    label: int
    logits: np.ndarray  # int8


@dataclass
class ClipResult:
    clip_id: int
    features: np.ndarray | None = None  # int8, flat, in the model's input layout
    classifications: list[Classification] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stack_high_water: int | None = None
    stack_size: int | None = None
    status: int | None = None
    message: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def logits(self) -> np.ndarray | None:
        return self.classifications[-1].logits if self.classifications else None

    @property
    def label(self) -> int | None:
        return self.classifications[-1].label if self.classifications else None


class ClipCollector:
    """Assembles the up frames of one clip (FEATURES chunks, LOGITS, COUNTS, STACK, LOG) until its
    STATUS frame."""

    def __init__(self, clip_id: int, feature_bytes: int):
        self.result = ClipResult(clip_id)
        self._feat = bytearray(feature_bytes)
        self._feat_got = 0
        self.done = False

    def _check_clip(self, cid: int, what: str) -> None:
        if cid != self.result.clip_id:
            raise ProtocolError(f"{what} for clip {cid} while clip {self.result.clip_id} is running")

    def add(self, f: Frame) -> None:
        p, r = f.payload, self.result
        try:
            if f.type == FEATURES:
                cid, off = struct.unpack_from("<II", p)
                self._check_clip(cid, "FEATURES")
                chunk = p[8:]
                if off + len(chunk) > len(self._feat):
                    raise ProtocolError(f"FEATURES chunk at {off}+{len(chunk)} beyond {len(self._feat)} bytes")
                self._feat[off:off + len(chunk)] = chunk
                self._feat_got += len(chunk)
            elif f.type == LOGITS:
                cid, window, hop, label, n = struct.unpack_from("<IHHHH", p)
                self._check_clip(cid, "LOGITS")
                logits = np.frombuffer(p, dtype=np.int8, count=n, offset=12).copy()
                r.classifications.append(Classification(window, hop, label, logits))
            elif f.type == COUNTS:
                cid, n = struct.unpack_from("<IH", p)
                self._check_clip(cid, "COUNTS")
                for i in range(n):
                    sid, value = struct.unpack_from("<BQ", p, 6 + 9 * i)
                    r.counts[STAGES.get(sid, f"stage{sid}")] = int(value)
            elif f.type == STACK:
                cid, hw, size = struct.unpack_from("<III", p)
                self._check_clip(cid, "STACK")
                r.stack_high_water, r.stack_size = hw, size
            elif f.type == LOG:
                r.log.append(p.decode(errors="replace"))
            elif f.type == STATUS:
                cid, code = struct.unpack_from("<IB", p)
                r.status, r.message = code, p[5:].decode(errors="replace")
                if cid != r.clip_id:
                    if code != 0:
                        raise ProtocolError(f"the device reports an error: {r.message} (status {code})")
                    raise ProtocolError(f"STATUS for clip {cid} while clip {r.clip_id} is running")
                if self._feat_got:
                    if self._feat_got != len(self._feat):
                        raise ProtocolError(f"clip {r.clip_id}: {self._feat_got} of {len(self._feat)} feature "
                                            "bytes arrived")
                    r.features = np.frombuffer(bytes(self._feat), dtype=np.int8)
                self.done = True
            elif f.type == INFO:
                if len(p) > 19 and p[19] == 1:
                    return  # a late answer to a PING
                raise ProtocolError(f"the device restarted during clip {r.clip_id} (it sent INFO again): "
                                    "it reset or crashed")
            else:
                raise ProtocolError(f"unexpected {f.name} frame from the device")
        except struct.error as e:
            raise ProtocolError(f"malformed {f.name} frame ({len(p)} bytes): {e}") from None


def pcm_frames(pcm: np.ndarray, max_payload: int) -> Iterator[bytes]:
    """int16 PCM [samples, channels] -> payloads of whole sample frames, each <= max_payload bytes."""
    pcm = np.ascontiguousarray(pcm, dtype="<i2")
    per = pcm.shape[1] * 2 if pcm.ndim == 2 else 2
    step = max(1, max_payload // per) * per
    raw = pcm.tobytes()
    for i in range(0, len(raw), step):
        yield raw[i:i + step]


def clip_request(pcm: np.ndarray, clip_id: int, flags: int, every: int, max_payload: int) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of the down frames that send one clip."""
    yield CLIP_BEGIN, clip_begin_payload(clip_id, int(pcm.shape[0]), flags, every)
    for chunk in pcm_frames(pcm, max_payload):
        yield PCM, chunk


# ---------------------------------------------------------------------------------------------
# Stop-and-wait link over a byte stream

class Link:
    """Host endpoint of the protocol over a byte stream (`transport.read(n, timeout)`, `write`)."""

    def __init__(self, transport, *, ack_timeout: float = 5.0, retries: int = 5):
        self.t = transport
        self.parser = FrameParser()
        self.ack_timeout = ack_timeout
        self.retries = retries
        self._tx_seq = 0
        self._rx_last: int | None = None
        self.n_resent = 0
        self.n_crc_errors = 0
        self.corrupt_next = 0  # fault injection: corrupt the CRC of the next n frames sent
        self._pending: list[Frame] = []

    def _write_frame(self, ftype: int, seq: int, payload: bytes, corrupt: bool = False) -> None:
        data = bytearray(encode_frame(ftype, seq, payload))
        if corrupt:
            data[-1] ^= 0x01
        self.t.write(bytes(data))

    def _next_event(self, deadline: float) -> Frame | BadFrame | None:
        """The next parsed event, or None when the deadline passes first."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.t.read(self.parser.want(), left)
            if data:
                evs = self.parser.feed(data)
                if evs:
                    assert len(evs) == 1  # reads never cross a frame boundary
                    return evs[0]

    def send(self, ftype: int, payload: bytes = b"") -> None:
        """Send one data frame and wait for its ACK; resend on NAK or timeout.

        A NAK that follows a data frame from the device means the device was busy sending (it NAKs
        what arrives while it waits for its own ACK): that resend does not count as a failed try."""
        seq = self._tx_seq
        self._tx_seq = (self._tx_seq + 1) & 0xFF
        failures = 0
        busy_resends = 0
        first = True
        while failures <= self.retries and busy_resends < 10000:
            if not first:
                self.n_resent += 1
                self._reack()  # in case the device is stuck waiting for an ACK of ours that it lost
            first = False
            corrupt = self.corrupt_next > 0
            if corrupt:
                self.corrupt_next -= 1
            self._write_frame(ftype, seq, payload, corrupt)
            deadline = time.monotonic() + self.ack_timeout
            device_spoke = False
            while True:
                ev = self._next_event(deadline)
                if ev is None:
                    self.parser.reset()
                    failures += 1
                    break  # timeout: resend
                if isinstance(ev, BadFrame):
                    self.n_crc_errors += 1
                    if ev.type not in (ACK, NAK):
                        self._write_frame(NAK, ev.seq, b"")
                    continue
                if ev.type == ACK and ev.seq == seq:
                    return
                if ev.type == NAK:
                    if device_spoke:
                        busy_resends += 1
                    else:
                        failures += 1
                    break
                if ev.type == ACK:
                    continue  # stale
                # a data frame while we wait for our ACK: the device went on; keep it for recv
                device_spoke = True
                deadline = max(deadline, time.monotonic() + self.ack_timeout)
                self._accept(ev)
        raise ProtocolError(f"the device did not acknowledge a {TYPE_NAMES.get(ftype, hex(ftype))} frame after "
                            f"{self.retries + 1} tries ({self.ack_timeout:g} s each): it hangs, reset or the link is down")

    def _reack(self) -> None:
        if self._rx_last is not None:
            self._write_frame(ACK, self._rx_last, b"")

    def _accept(self, f: Frame) -> None:
        self._write_frame(ACK, f.seq, b"")
        if self._rx_last is not None and f.seq == self._rx_last:
            return  # duplicate (our ACK was lost)
        self._rx_last = f.seq
        self._pending.append(f)

    def recv(self, timeout: float) -> Frame:
        """The next data frame from the device (ACKed); NAKs corrupted frames and waits for the resend.
        Every ack_timeout of silence, the last ACK is sent again (the device may have lost it)."""
        if self._pending:
            return self._pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now >= deadline:
                mid = self.parser.mid_frame
                self.parser.reset()
                if mid:
                    raise ProtocolError(f"the device stopped in the middle of a frame ({timeout:g} s without "
                                        "the rest)")
                raise ProtocolError(f"no answer from the device within {timeout:g} s: it hangs or reset")
            ev = self._next_event(min(deadline, now + self.ack_timeout))
            if ev is None:
                if self.parser.mid_frame:  # bytes were lost: drop the frame, ask for it again
                    self.parser.reset()
                    self._write_frame(NAK, 0xFF, b"")
                else:
                    self._reack()
                continue
            if isinstance(ev, BadFrame):
                self.n_crc_errors += 1
                self._write_frame(NAK, ev.seq, b"")
                deadline = max(deadline, time.monotonic() + self.ack_timeout)
                continue
            if ev.type in (ACK, NAK):
                continue
            self._accept(ev)
            if self._pending:
                return self._pending.pop(0)

    def drain(self, quiet: float = 0.05) -> None:
        """Discard whatever the device sends until it is quiet for `quiet` seconds."""
        while self.t.read(4096, quiet):
            pass
        self.parser.reset()

