"""The 128 KB boards of streamed execution, as data: NUCLEO-F411RE (STM32F411RE, Cortex-M4F at 100 MHz, 512 KB
flash, 128 KB RAM, USART2 on the ST-LINK virtual COM port) builds the self-test and a bundle's classifier
within its memory, with the vector table at its flash origin and no semihosting call, and `tinyscene flash
--dry-run` names its programmer; qemu-an386-128k is mps2-an386 with its linker limited to 128 KB of RAM and
runs firmware under QEMU."""
from __future__ import annotations

import struct
import subprocess

import pytest

import device_bundle as DB
from tinyscene.target.apps import get_app
from tinyscene.target.boards import load_board
from tinyscene.target.build import build_firmware


@pytest.fixture(scope="module")
def bundle():
    return DB.cached_bundle(DB.tiny_config(0.25))


def test_board_yaml():
    b = load_board("nucleo-f411re")
    assert (b.cpu, b.fpu, b.clock_hz, b.features) == ("cortex-m4", "fpv4-sp-d16", 100_000_000, ("dsp", "fpu"))
    assert (b.flash.origin, b.flash.size) == (0x08000000, 512 * 1024)
    assert (b.ram.origin, b.ram.size) == (0x20000000, 128 * 1024) and b.ext_ram is None
    assert b.console == "uart" and b.transports == ("uart",) and not b.is_emulated
    assert b.counter.kind == "dwt" and b.flash_tool.tool == "openocd"
    assert b.defines["TS_UART_BASE"] == "0x40004400u" and b.defines["TS_UART_IRQ"] == 38  # USART2
    assert int(str(b.defines["TS_UART_BAUD"]).rstrip("u")) == b.uart_baud
    q = load_board("qemu-an386-128k")
    assert q.ram.size == 128 * 1024 and q.ext_ram is None and q.qemu.machine == "mps2-an386"
    assert q.kernel_family() == "armv7em"


def test_f411re_selftest_image(tmp_path):
    from elftools.elf.elffile import ELFFile

    board = load_board("nucleo-f411re")
    res = build_firmware(board, get_app("selftest"), tmp_path / "st.elf")
    assert 0 < res.flash_bytes < board.flash.size and 0 < res.ram_bytes <= board.ram.size
    with open(res.elf, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        assert text["sh_addr"] == 0x08000000
        sp, reset = struct.unpack_from("<II", text.data())
    assert 0x20000000 < sp <= 0x20000000 + 128 * 1024  # the initial stack pointer inside the 128 KB
    assert 0x08000000 <= reset < 0x08080000 and reset & 1
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(res.elf)], capture_output=True, text=True,
                         check=True).stdout
    assert "bkpt\t0x00ab" not in dis and "ts_stm32f4_usart_init" in dis


def test_f411re_classifier_fits_and_flash_dry_run(bundle, run_cli):
    from tinyscene.deploy.classifier import build_classifier

    fw = build_classifier(bundle, "nucleo-f411re")
    assert fw.kernels == "armv7em" and fw.flash_bytes <= 512 * 1024 and fw.ram_bytes <= 128 * 1024
    for tool, words in ((None, ["openocd", "interface/stlink.cfg", "target/stm32f4x.cfg", "verify reset exit"]),
                        ("pyocd", ["pyocd", "load", "--target", "stm32f411retx"])):
        rc, out, err = run_cli("flash", "--bundle", bundle, "--board", "nucleo-f411re", "--dry-run",
                               *(["--tool", tool] if tool else []))
        assert rc == 0, err
        cmd = out.strip().splitlines()[-1]
        assert all(w in cmd for w in words) and "classifier.elf" in cmd


@pytest.mark.qemu
def test_qemu_an386_128k_runs(tmp_path):
    from tinyscene.target.qemu import run_firmware

    board = load_board("qemu-an386-128k")
    res = build_firmware(board, get_app("selftest"), tmp_path / "st.elf")
    assert res.ram_bytes <= 128 * 1024
    out = run_firmware(board, res.elf, timeout=60)
    assert out.exit_code == 0 and "selftest: PASS" in out.output
