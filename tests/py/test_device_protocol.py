"""Host <-> device protocol: the frame format against an independent implementation (zlib.crc32,
struct), the C encoder/parser (host build through ctypes) against the Python one, corrupted streams
(hypothesis), and the stop-and-wait link against the real C endpoint (the protoecho test app) on the
host build and on QEMU's emulated UART over a loopback TCP socket: corrupted frames in both
directions, a device that hangs, resets or dies mid-run."""
from __future__ import annotations

import ctypes
import os
import random
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyscene.paths import FIRMWARE_DIR, REPO_ROOT, cache_dir
from tinyscene.target import protocol as P
from tinyscene.target.apps import App
from tinyscene.target.boards import load_board
from tinyscene.target.build import build_firmware
from tinyscene.target.transport import start_uart_device

ECHO_SRC = REPO_ROOT / "tests" / "c" / "device" / "app_protoecho.c"
HOST_SRC = REPO_ROOT / "tests" / "c" / "device" / "proto_host.c"


# -- an independent implementation of the frame format (written from proto.h's description) -----

def ref_frame(ftype: int, seq: int, payload: bytes) -> bytes:
    head = bytes([ftype, seq]) + len(payload).to_bytes(2, "little")
    hcrc = (zlib.crc32(head) & 0xFFFF).to_bytes(2, "little")
    crc = zlib.crc32(head + hcrc + payload).to_bytes(4, "little")
    return b"\xa5\x5a" + head + hcrc + payload + crc


def ref_decode(data: bytes) -> list[tuple[int, int, bytes]]:
    """Good frames of a clean stream, by brute force: at every sync pair, check both CRCs."""
    out, i = [], 0
    while i + 12 <= len(data):
        if data[i:i + 2] == b"\xa5\x5a":
            t, s, n, h = struct.unpack_from("<BBHH", data, i + 2)
            if zlib.crc32(data[i + 2:i + 6]) & 0xFFFF == h and i + 12 + n <= len(data):
                body = data[i + 2:i + 8 + n]
                if int.from_bytes(data[i + 8 + n:i + 12 + n], "little") == zlib.crc32(body):
                    out.append((t, s, data[i + 8:i + 8 + n]))
                    i += 12 + n
                    continue
        i += 1
    return out


def test_frame_types_match_proto_h():
    text = (FIRMWARE_DIR / "include" / "ts" / "proto.h").read_text()
    listed = {name: int(v, 16) for name, v in re.findall(r"X\(TS_PROTO_(\w+), (0x[0-9A-Fa-f]+),", text)}
    assert listed, "no TS_PROTO_TYPE_LIST in proto.h"
    for name, value in listed.items():
        assert getattr(P, name) == value, name
    assert set(P.TYPE_NAMES.values()) == set(listed)
    assert int(re.search(r"#define TS_PROTO_VERSION (\d+)u", text).group(1)) == P.VERSION
    for action in ("CORRUPT", "HANG", "RESET", "EXIT"):
        v = int(re.search(rf"#define TS_PROTO_DEBUG_{action} (\d+)u", text).group(1))
        assert getattr(P, f"DEBUG_{action}") == v


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=600))
def test_encode_matches_reference(ftype, seq, payload):
    assert P.encode_frame(ftype, seq, payload) == ref_frame(ftype, seq, payload)


def test_known_frame_bytes():
    # hand-checked: PING seq 0, no payload
    f = P.encode_frame(P.PING, 0, b"")
    assert f[:6] == bytes.fromhex("a55a10000000")
    assert int.from_bytes(f[6:8], "little") == zlib.crc32(bytes.fromhex("10000000")) & 0xFFFF
    assert int.from_bytes(f[8:], "little") == zlib.crc32(f[2:8])


# -- the C side on the host --------------------------------------------------------------------

@pytest.fixture(scope="module")
def clib():
    srcs = [HOST_SRC, *sorted((FIRMWARE_DIR / "src" / "rt").glob("ts_proto_*.c")), FIRMWARE_DIR / "src/rt/ts_crc32.c"]
    h = zlib.crc32(b"".join(p.read_bytes() for p in srcs) + (FIRMWARE_DIR / "include/ts/proto.h").read_bytes())
    so = cache_dir() / "test" / f"libtsproto-{h:08x}-{os.getpid()}.so"
    so.parent.mkdir(parents=True, exist_ok=True)
    # ts_proto_debug/io_uart need the board: a stub board is linked in
    stub = so.with_suffix(".stub.c")
    stub.write_text('#include "ts/board.h"\n#include <stdlib.h>\n'
                    "size_t ts_board_uart_write(const uint8_t *d, size_t n) { (void)d; return n; }\n"
                    "size_t ts_board_uart_read(uint8_t *d, size_t n, uint32_t t) { (void)d; (void)n; (void)t; return 0; }\n"
                    "void ts_board_exit(int c) { exit(c); }\n")
    r = subprocess.run(["gcc", "-O1", "-shared", "-fPIC", f"-I{FIRMWARE_DIR / 'include'}", *map(str, srcs), str(stub),
                        "-o", str(so)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lib = ctypes.CDLL(str(so))
    lib.proto_encode.restype = ctypes.c_size_t
    lib.proto_encode.argtypes = [ctypes.c_uint8, ctypes.c_uint8, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_char_p, ctypes.c_size_t]
    lib.proto_parse.restype = ctypes.c_int
    lib.proto_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_int32), ctypes.c_int]
    yield lib
    so.unlink(missing_ok=True)
    stub.unlink(missing_ok=True)


def c_encode(lib, ftype, seq, payload: bytes) -> bytes:
    out = ctypes.create_string_buffer(len(payload) + 64)
    n = lib.proto_encode(ftype, seq, payload, len(payload), out, len(out))
    assert n == len(payload) + 12
    return out.raw[:n]


EV = {1: "frame", 2: "crc", 3: "too-long"}


def c_parse(lib, data: bytes, chunk: int = 0, cap: int = 65535) -> list[tuple]:
    ev = (ctypes.c_int32 * (4 * 4096))()
    n = lib.proto_parse(data, len(data), chunk, cap, ev, 4096)
    return [(EV[ev[4 * i]], ev[4 * i + 1], ev[4 * i + 2], ev[4 * i + 3]) for i in range(n)]


def py_parse(data: bytes, feed: int = 0, max_len: int = 65535) -> list[tuple]:
    p = P.FrameParser(max_len)
    out = []
    i = 0
    while i < len(data):
        k = feed or p.want()
        for e in p.feed(data[i:i + k]):
            if isinstance(e, P.Frame):
                out.append(("frame", e.type, e.seq, len(e.payload)))
            else:
                out.append((e.reason, e.type, e.seq, None))
        i += k
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=3000))
def test_c_encoder_equals_reference(clib, ftype, seq, payload):
    assert c_encode(clib, ftype, seq, payload) == ref_frame(ftype, seq, payload)


frames_st = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300)),
                     min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames_st, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), max_size=4),
       st.binary(max_size=40), st.integers(0, 5))
def test_corrupted_streams(clib, frames, flips, garbage, feed):
    """Bit flips and garbage: both parsers report the same events; every frame they accept is one of
    the frames sent (a corrupted frame is never accepted); every untouched frame is recovered."""
    clean = [ref_frame(*f) for f in frames]
    data = bytearray(garbage + b"".join(clean))
    hit = set()
    for pos, bit in flips:
        i = pos % len(data)
        data[i] ^= 1 << bit
        hit.add(i)
    data = bytes(data)
    c_events = c_parse(clib, data, feed)
    py_events = py_parse(data, feed)
    assert [e[:3] for e in c_events] == [e[:3] for e in py_events]
    got = [e for e in py_events if e[0] == "frame"]
    sent = {(t, s, len(p)) for t, s, p in frames}
    for e in got:
        assert e[1:] in sent
    # frames whose bytes were not touched (and follow an intact frame or the start) come out intact
    pos = len(garbage)
    recovered = {(t, s, p) for t, s, p in ref_decode(data)}
    prev_ok = not any(i < len(garbage) for i in hit) and b"\xa5" not in garbage
    for (t, s, p), raw in zip(frames, clean):
        ok = not any(pos <= i < pos + len(raw) for i in hit)
        if ok and prev_ok:
            assert (t, s, p) in recovered
            assert ("frame", t, s, len(p)) in py_events
        prev_ok = ok
        pos += len(raw)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_or_accept_garbage(data):
    for e in py_parse(data):
        if e[0] == "frame":  # only if the bytes really hold a valid frame
            assert any(f[:2] == e[1:3] for f in ref_decode(data))


def test_corrupted_length_is_caught_by_header_crc(clib):
    a, b = ref_frame(P.PCM, 1, b"x" * 100), ref_frame(P.PCM, 2, b"y" * 10)
    bad = bytearray(a)
    bad[5] ^= 0x40  # the length's high byte: 100 -> 16484 bytes
    for events in (py_parse(bytes(bad) + b), c_parse(clib, bytes(bad) + b)):
        assert [e[:3] for e in events] == [("frame", P.PCM, 2)]


def test_payload_longer_than_buffer(clib):
    data = ref_frame(P.PCM, 3, b"z" * 500) + ref_frame(P.PING, 4, b"")
    assert [e[:3] for e in c_parse(clib, data, 0, cap=100)] == [("too-long", P.PCM, 3), ("frame", P.PING, 4)]
    assert [e[:3] for e in py_parse(data, 0, max_len=100)] == [("too-long", P.PCM, 3), ("frame", P.PING, 4)]


def test_decode_stream_strict_errors():
    good = P.encode_frame(P.LOG, 0, b"hello")
    assert [f.payload for f in P.decode_stream(good + good)] == [b"hello", b"hello"]
    bad = bytearray(good)
    bad[-6] ^= 1
    with pytest.raises(P.ProtocolError, match="corrupted LOG frame"):
        list(P.decode_stream(bytes(bad)))
    with pytest.raises(P.ProtocolError, match="middle of a frame"):
        list(P.decode_stream(good + good[:7]))


# -- the link against the C endpoint -----------------------------------------------------------

class EchoApp(App):
    @property
    def main_source(self) -> Path:
        return ECHO_SRC


def echo_elf(board_name: str, tmp: Path) -> Path:
    b = load_board(board_name)
    return build_firmware(b, EchoApp("protoecho", "protocol echo (tests)"), tmp / f"echo-{board_name}.elf").elf


class Flaky:
    """A transport wrapper that flips bits in what goes through it (seeded): line noise both ways."""

    def __init__(self, t, rate: float, seed: int):
        self.t, self.rate, self.rng = t, rate, random.Random(seed)
        self.flipped = 0

    def _noise(self, data: bytes) -> bytes:
        out = bytearray(data)
        for i in range(len(out)):
            if self.rng.random() < self.rate:
                out[i] ^= 1 << self.rng.randrange(8)
                self.flipped += 1
        return bytes(out)

    def read(self, n, timeout):
        return self._noise(self.t.read(n, timeout))

    def write(self, data):
        self.t.write(self._noise(data))

    def close(self):
        self.t.close()


def _echo_roundtrips(link, n: int, seed: int, max_len: int = 3000) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        data = rng.randbytes(rng.randrange(0, max_len))
        link.send(P.PCM, data)
        f = link.recv(20)
        assert f.type == P.LOG and f.payload == bytes([P.PCM]) + data


def test_link_host_build_with_line_noise(tmp_path):
    """Stop-and-wait over the host build's pipes, one flipped bit per ~2 KB both ways: every echo
    comes back exact (NAK + resend, duplicate detection, re-ACK)."""
    b = load_board("host")
    with start_uart_device(b, echo_elf("host", tmp_path)) as dev:
        noisy = Flaky(dev.transport, rate=1 / 2000, seed=1)
        link = P.Link(noisy, ack_timeout=0.3, retries=8)
        assert link.recv(10).payload == b"protoecho"
        _echo_roundtrips(link, 60, seed=2)
        assert noisy.flipped > 10 and (link.n_resent + link.n_crc_errors) > 0
        noisy.rate = 0
        link.send(P.BYE)
        assert dev.wait(10) == 0


def test_link_device_corrupts_its_frames(tmp_path):
    b = load_board("host")
    with start_uart_device(b, echo_elf("host", tmp_path)) as dev:
        link = P.Link(dev.transport, ack_timeout=2)
        link.recv(10)
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_CORRUPT, 3))
        link.send(P.PCM, b"abc")
        assert link.recv(10).payload == bytes([P.PCM]) + b"abc"
        assert link.n_crc_errors == 3
        link.corrupt_next = 2
        link.send(P.PCM, b"def")
        assert link.recv(10).payload == bytes([P.PCM]) + b"def"
        assert link.n_resent >= 2
        link.send(P.BYE)
        assert dev.wait(10) == 0


def test_link_device_dies_or_hangs(tmp_path):
    b = load_board("host")
    elf = echo_elf("host", tmp_path)
    with start_uart_device(b, elf) as dev:
        link = P.Link(dev.transport, ack_timeout=0.3, retries=2)
        link.recv(10)
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_HANG))
        with pytest.raises(P.ProtocolError, match="did not acknowledge"):
            link.send(P.PCM, b"anyone?")
    with start_uart_device(b, elf) as dev:
        link = P.Link(dev.transport, ack_timeout=0.3, retries=2)
        link.recv(10)
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_EXIT, 7))
        with pytest.raises(P.ProtocolError, match="the program exited"):
            link.send(P.PCM, b"anyone?")
        assert dev.wait(5) == 7


@pytest.mark.qemu
def test_uart_through_qemu_loopback_tcp(tmp_path):
    """QEMU mps2-an386: the CMSDK UART on a loopback TCP socket; frames corrupted both ways are resent;
    a reset mid-run shows as a new INFO; a hang is a timeout."""
    b = load_board("qemu-an386")
    elf = echo_elf("qemu-an386", tmp_path)
    with start_uart_device(b, elf) as dev:
        link = P.Link(dev.transport, ack_timeout=2)
        assert link.recv(20).payload == b"protoecho"
        _echo_roundtrips(link, 6, seed=3, max_len=1500)
        link.corrupt_next = 1
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_CORRUPT, 2))
        link.send(P.PCM, b"after noise")
        assert link.recv(20).payload == bytes([P.PCM]) + b"after noise"
        assert link.n_resent >= 1 and link.n_crc_errors >= 2
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_RESET))
        f = link.recv(20)  # the firmware restarted: its boot INFO again
        assert f.type == P.INFO and f.payload == b"protoecho"
        link.send(P.BYE)
        assert dev.wait(20) == 0
    with start_uart_device(b, elf) as dev:
        link = P.Link(dev.transport, ack_timeout=0.5, retries=1)
        link.recv(20)
        link.send(P.DEBUG, P.debug_payload(P.DEBUG_HANG))
        with pytest.raises(P.ProtocolError, match="did not acknowledge"):
            link.send(P.PCM, b"x")


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-an500", "qemu-an547"])
def test_uart_on_other_qemu_boards(board, tmp_path):
    """The UART path works on the M7 board and on the M55 board (CMSDK UART0 at its Secure alias)."""
    b = load_board(board)
    with start_uart_device(b, echo_elf(board, tmp_path)) as dev:
        link = P.Link(dev.transport, ack_timeout=3)
        assert link.recv(20).payload == b"protoecho"
        _echo_roundtrips(link, 3, seed=4, max_len=800)
        link.send(P.BYE)
        assert dev.wait(20) == 0


def test_semihosting_file_transport_on_host(tmp_path):
    """The file transport (what QEMU's semihosting uses), on the host build: frames back to back, no ACK."""
    elf = echo_elf("host", tmp_path)
    payloads = [os.urandom(k) for k in (0, 5, 4000)]
    req = b"".join(P.encode_frame(P.PCM, i, p) for i, p in enumerate(payloads)) + P.encode_frame(P.BYE, 9, b"")
    (tmp_path / "in.bin").write_bytes(req)
    r = subprocess.run([str(elf), "--in", "in.bin", "--out", "out.bin"], cwd=tmp_path, timeout=20)
    assert r.returncode == 0
    frames = list(P.decode_stream((tmp_path / "out.bin").read_bytes()))
    assert frames[0].type == P.INFO
    assert [f.payload for f in frames[1:]] == [bytes([P.PCM]) + p for p in payloads]
    # a corrupted request on a file is a clear failure (exit code), not a silent skip
    bad = bytearray(req)
    bad[20] ^= 1
    (tmp_path / "in.bin").write_bytes(bytes(bad))
    r = subprocess.run([str(elf), "--in", "in.bin", "--out", "out.bin"], cwd=tmp_path, timeout=20)
    assert r.returncode == 10 + 6  # TS_ERR_CRC


def test_new_host_session_ping_is_never_a_duplicate(tmp_path):
    """A board keeps running between host sessions: the new host's PING may carry the very sequence
    number the last frame of the previous session had; it must still be answered."""
    b = load_board("host")
    with start_uart_device(b, echo_elf("host", tmp_path)) as dev:
        first = P.Link(dev.transport, ack_timeout=2)
        first.recv(10)
        first.send(P.PCM, b"last frame, seq 0")
        first.recv(10)
        second = P.Link(dev.transport, ack_timeout=0.5, retries=2)  # starts at seq 0 again
        second.send(P.PING)
        assert second.recv(5).payload == b"protoecho"
        second.send(P.BYE)
        assert dev.wait(10) == 0
