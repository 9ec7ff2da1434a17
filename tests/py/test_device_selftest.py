"""Foundation firmware: the selftest app builds and runs on every QEMU board and on the host;
a deliberate fault is reported as a fault with a non-zero exit; a hang is a timeout error."""
from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from tinyscene.errors import TsError
from tinyscene.target.apps import get_app
from tinyscene.target.boards import board_names, load_board
from tinyscene.target.build import build_firmware, memory_ld
from tinyscene.target.qemu import run_firmware

QEMU_BOARDS = [b for b in board_names() if load_board(b).is_emulated]


def test_three_qemu_boards_exist():
    assert {"qemu-an386", "qemu-an500", "qemu-an547"} <= set(QEMU_BOARDS)


@pytest.mark.qemu
@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_selftest_cli_build_and_emulate(board, tmp_path, run_cli):
    elf = tmp_path / f"{board}.elf"
    rc, out, err = run_cli("build", "--board", board, "--app", "selftest", "--out", elf)
    assert rc == 0, err
    assert "flash" in out and "RAM" in out
    rc, out, err = run_cli("emulate", "--board", board, "--elf", elf, "--timeout", "30")
    assert rc == 0, out + err
    assert "selftest: PASS" in out
    assert "tick counter proportional    ok" in out and "stack painting               ok" in out

    rc, out, err = run_cli("emulate", "--board", board, "--elf", elf, "--timeout", "30", "--", "fault")
    assert rc != 0
    assert "firmware fault: UsageFault" in err


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-an386", "host"])
def test_selftest_blob_roundtrip_over_files(board, tmp_path):
    """A binary blob goes in through a (semihosting) file and comes back reversed, with the CRC-32
    that zlib computes."""
    b = load_board(board)
    elf = build_firmware(b, get_app("selftest"), tmp_path / "st.elf").elf
    blob = bytes(range(256)) * 7 + b"\x00\xff tail"
    (tmp_path / "in.bin").write_bytes(blob)
    r = run_firmware(b, elf, ["--in", "in.bin", "--out", "out.bin"], cwd=tmp_path, timeout=30)
    assert r.ok, r.output
    assert (tmp_path / "out.bin").read_bytes() == blob[::-1]
    assert f"crc32=0x{zlib.crc32(blob):08x}" in r.output


def test_memory_ld_from_board_yaml():
    ld = memory_ld(load_board("qemu-an547"))
    assert "ORIGIN = 0x10000000, LENGTH = 0x80000" in ld  # ITCM, 512 KiB
    assert "EXTRAM" in ld and "__stack_size = 0x8000;" in ld


def test_unknown_board_and_app_are_clear_errors(run_cli, tmp_path):
    rc, _, err = run_cli("build", "--board", "no-such-board", "--app", "selftest", "--out", tmp_path / "x.elf")
    assert rc == 2 and "unknown board 'no-such-board'" in err and "qemu-an386" in err
    rc, _, err = run_cli("build", "--board", "qemu-an386", "--app", "nope", "--out", tmp_path / "x.elf")
    assert rc == 2 and "unknown app 'nope'" in err


@pytest.mark.qemu
def test_hang_is_a_timeout_error(tmp_path):
    """A firmware that never exits is reported as a hang after the timeout."""
    src = tmp_path / "app_hang.c"
    src.write_text('#include "ts/rt.h"\nint ts_app_main(int c, char **v) { for (;;) { } return 0; }\n')
    from tinyscene.target.apps import App

    class HangApp(App):
        @property
        def main_source(self) -> Path:
            return src

    b = load_board("qemu-an386")
    elf = build_firmware(b, HangApp("hang", "never exits"), tmp_path / "hang.elf").elf
    with pytest.raises(TsError, match="hung: no exit after 2 s"):
        run_firmware(b, elf, timeout=2, cwd=tmp_path)


def test_firmware_too_big_for_ram_is_named(tmp_path):
    src = tmp_path / "app_big.c"
    src.write_text('#include "ts/rt.h"\nstatic char big[8 << 20];\n'
                   'int ts_app_main(int c, char **v) { big[c] = 1; return big[1]; }\n')
    from tinyscene.target.apps import App

    class BigApp(App):
        @property
        def main_source(self) -> Path:
            return src

    with pytest.raises(TsError, match="does not fit the board's memory"):
        build_firmware(load_board("qemu-an386"), BigApp("big", "too big"), tmp_path / "big.elf")
