"""A real board's serial port (pyserial) as a protocol transport: the ST-LINK virtual COM port of the
Nucleo / Discovery boards, or any USB-UART bridge."""
from __future__ import annotations

import contextlib
import time

from tinyscene.errors import TsError
from tinyscene.target.protocol import ProtocolError

ST_VID = 0x0483  # STMicroelectronics (ST-LINK V2-1 / V3 virtual COM port)


def list_ports() -> list[tuple[str, str]]:
    """(device, description) of the serial ports that look like a board's virtual COM port."""
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports():
        if p.vid == ST_VID or "STLink" in (p.description or "") or "ST-LINK" in (p.description or ""):
            out.append((p.device, p.description or ""))
    return out


def default_port() -> str:
    ports = list_ports()
    if not ports:
        raise TsError("no board's serial port found (no ST-LINK virtual COM port is connected): plug the board "
                      "in over its ST-LINK USB connector, or name the port with --port /dev/ttyACM0")
    if len(ports) > 1:
        names = ", ".join(p for p, _ in ports)
        raise TsError(f"several serial ports look like boards ({names}): choose one with --port")
    return ports[0][0]


class SerialTransport:
    """pyserial port with the transport interface (read(n, timeout), write, close)."""

    def __init__(self, port: str, baud: int):
        import serial

        try:
            # serial_for_url also accepts socket://HOST:PORT and loop:// (tests, remote boards)
            self.port = serial.serial_for_url(port, baudrate=baud, timeout=0.1, write_timeout=10)
        except (serial.SerialException, ValueError) as e:
            raise TsError(f"{port}: cannot open the serial port ({e})") from None
        self.name = port
        with contextlib.suppress(Exception):
            self.port.reset_input_buffer()

    def read(self, n: int, timeout: float) -> bytes:
        import serial

        deadline = time.monotonic() + max(timeout, 0)
        try:
            while True:
                self.port.timeout = max(min(deadline - time.monotonic(), 0.5), 0.001)
                data = self.port.read(n)
                if data or time.monotonic() >= deadline:
                    return data
        except serial.SerialException as e:
            raise ProtocolError(f"{self.name}: serial port lost ({e}): was the board unplugged?") from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
            self.port.flush()
        except serial.SerialException as e:
            raise ProtocolError(f"{self.name}: cannot write to the serial port ({e})") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.port.close()
