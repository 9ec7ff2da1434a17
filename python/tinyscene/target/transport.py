"""Byte transports between the host and a device, and the sessions that run a firmware over them.

    semihosting   QEMU boards: the request frames go down in a file, the answers come back in a file
                  (a reliable channel: no ACKs); the firmware runs once per batch.
    uart          QEMU boards: QEMU's emulated UART is connected to a TCP socket on 127.0.0.1 that
                  this process listens on (`-serial tcp:127.0.0.1:PORT`), so the byte-stream path of
                  the real boards (stop-and-wait, ACK/NAK, resend) is exercised in CI.
                  Real boards: a serial port (tinyscene.target.serial, pyserial).
    pipe          the host build: the firmware's stdin/stdout.

A transport has `read(n, timeout) -> bytes` (up to n bytes, b"" when nothing came in time; raises
ProtocolError when the other end is gone), `write(data)` and `close()`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

from tinyscene.errors import TsError
from tinyscene.target.boards import Board
from tinyscene.target.protocol import ProtocolError
from tinyscene.target.qemu import QEMU, qemu_command


class SocketTransport:
    def __init__(self, sock: socket.socket, what: str = "the device"):
        self.sock = sock
        self.what = what
        self.closed = False

    def read(self, n: int, timeout: float) -> bytes:
        self.sock.settimeout(max(timeout, 1e-3))
        try:
            data = self.sock.recv(n)
        except (socket.timeout, BlockingIOError):
            return b""
        except OSError as e:
            raise ProtocolError(f"{self.what}: connection lost ({e})") from None
        if not data:
            self.closed = True
            raise ProtocolError(f"{self.what} closed the connection (the emulator exited)")
        return data

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ProtocolError(f"{self.what}: connection lost while sending ({e})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class PipeTransport:
    """A child process's stdout (read, with a timeout, through a reader thread) and stdin (write)."""

    def __init__(self, proc: subprocess.Popen, what: str = "the device"):
        self.proc = proc
        self.what = what
        self._buf = bytearray()
        self._eof = False
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cv:
                if not data:
                    self._eof = True
                else:
                    self._buf += data
                self._cv.notify_all()
            if not data:
                return

    def read(self, n: int, timeout: float) -> bytes:
        with self._cv:
            self._cv.wait_for(lambda: self._buf or self._eof, timeout=max(timeout, 0))
            if self._buf:
                out = bytes(self._buf[:n])
                del self._buf[:n]
                return out
            if self._eof:
                raise ProtocolError(f"{self.what} closed its output (the program exited)")
            return b""

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ProtocolError(f"{self.what} closed its input (the program exited: {e})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()


class DeviceProcess:
    """A running firmware (QEMU or the host build) with a byte transport to it."""

    def __init__(self, proc: subprocess.Popen, transport, board: Board, console: list[str]):
        self.proc = proc
        self.transport = transport
        self.board = board
        self.console = console  # semihosting console lines (QEMU) / stderr (host)

    def console_tail(self, n: int = 400) -> str:
        return "".join(self.console)[-n:].strip().replace("\n", " | ")

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)


def _pump_lines(stream, sink: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        sink.append(raw.decode(errors="replace"))


@contextlib.contextmanager
def start_uart_device(board: Board, elf: Path, args: Sequence[str] = (), *, connect_timeout: float = 30.0,
                      cwd: Path | None = None) -> Iterator[DeviceProcess]:
    """Start `elf` with its protocol on a byte stream: QEMU with the board's UART on a loopback TCP
    socket (QEMU connects to us, so no port can be taken in between), or the host build on pipes.
    The process is killed when the block ends, whatever happened."""

    elf = Path(elf).resolve()
    console: list[str] = []
    if board.is_host:
        proc = subprocess.Popen([str(elf), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd)
        threading.Thread(target=_pump_lines, args=(proc.stderr, console), daemon=True).start()
        dev = DeviceProcess(proc, PipeTransport(proc, f"{board.name} firmware"), board, console)
    else:
        if not shutil.which(QEMU):
            raise TsError(f"'{QEMU}' not found on PATH (run `make setup`)")
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        cmd = qemu_command(board, elf, args, serial=f"tcp:127.0.0.1:{port},nodelay=on")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=cwd)
        threading.Thread(target=_pump_lines, args=(proc.stdout, console), daemon=True).start()
        srv.settimeout(0.2)
        conn = None
        deadline = time.monotonic() + connect_timeout
        try:
            while conn is None:
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        proc.kill()
                        tail = "".join(console)[-300:].strip()
                        raise TsError(f"{board.name}: QEMU did not connect its UART to 127.0.0.1:{port}"
                                      + (f" ({tail})" if tail else "")) from None
        finally:
            srv.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        dev = DeviceProcess(proc, SocketTransport(conn, f"{board.name} (QEMU UART)"), board, console)
    try:
        yield dev
    finally:
        dev.transport.close()
        dev.kill()
