"""Real boards as data (nucleo-l4r5zi, disco-f746ng): board.yaml, firmware builds with size checks
(selftest and the classifier of a bundle), the image's vector table, no semihosting instruction in an
image that runs without a debugger, the static memory plan's limits, and `tinyscene flash`
(--dry-run names the programmer and the image; no probe is a clear error)."""
from __future__ import annotations

import struct

import device_bundle as DB
import pytest

from tinyscene.deploy.classifier import load_bundle, plan_memory
from tinyscene.errors import TsError
from tinyscene.target.apps import get_app
from tinyscene.target.boards import load_board
from tinyscene.target.build import build_firmware

REAL = ["nucleo-l4r5zi", "disco-f746ng"]
CFG = DB.tiny_config(0.25)


@pytest.fixture(scope="module")
def bundle():
    return DB.cached_bundle(CFG)


def test_real_board_yaml():
    n = load_board("nucleo-l4r5zi")
    assert (n.cpu, n.fpu, n.clock_hz) == ("cortex-m4", "fpv4-sp-d16", 120_000_000)
    assert (n.flash.origin, n.flash.size) == (0x08000000, 2 * 1024 * 1024)
    assert (n.ram.origin, n.ram.size) == (0x20000000, 640 * 1024) and n.ext_ram is None
    d = load_board("disco-f746ng")
    assert (d.cpu, d.clock_hz) == ("cortex-m7", 216_000_000)
    assert (d.flash.origin, d.flash.size) == (0x08000000, 1024 * 1024)
    assert (d.ram.origin, d.ram.size) == (0x20000000, 320 * 1024)
    assert (d.ext_ram.origin, d.ext_ram.size) == (0xC0000000, 8 * 1024 * 1024)
    for b in (n, d):
        assert b.console == "uart" and b.transports == ("uart",) and not b.is_emulated
        assert b.counter.kind == "dwt" and b.counter.unit == "cycles"
        assert b.flash_tool is not None and b.flash_tool.tool in ("pyocd", "openocd")
        assert int(str(b.defines["TS_UART_BAUD"]).rstrip("u")) == b.uart_baud


def _image_checks(board, elf):
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        e = ELFFile(f)
        text = e.get_section_by_name(".text")
        assert text["sh_addr"] == board.flash.origin  # vector table first, at the flash origin
        code = text.data()
    sp, reset = struct.unpack_from("<II", code)
    assert board.ram.origin < sp <= board.ram.origin + board.ram.size
    assert board.flash.origin <= reset < board.flash.origin + board.flash.size and reset & 1  # Thumb
    # no semihosting call (BKPT 0xAB): without a debugger it would stop the board
    import subprocess

    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "bkpt\t0x00ab" not in dis and "ts_semihost" not in dis and "_swiwrite" not in dis


@pytest.mark.parametrize("name", REAL)
def test_selftest_builds_for_real_board(name, tmp_path):
    board = load_board(name)
    res = build_firmware(board, get_app("selftest"), tmp_path / "st.elf")
    assert 0 < res.flash_bytes < board.flash.size and 0 < res.ram_bytes <= board.ram.size
    _image_checks(board, res.elf)


@pytest.mark.parametrize("name", REAL)
def test_classifier_builds_and_fits_real_board(name, bundle):
    from tinyscene.deploy.classifier import build_classifier

    fw = build_classifier(bundle, name)
    b = fw.board
    assert fw.flash_bytes <= b.flash.size and fw.ram_bytes <= b.ram.size
    assert fw.kernels == "armv7em"  # both have the DSP extension
    assert fw.plan.ram_total < fw.ram_bytes  # the plan is inside the image's RAM
    _image_checks(b, fw.elf)


def test_memory_plan_refuses_what_does_not_fit(bundle):
    b = load_bundle(bundle)
    nucleo = load_board("nucleo-l4r5zi")
    with pytest.raises(TsError, match=r"does not fit board 'nucleo-l4r5zi'.*model arena 700,000 B.*of RAM left"):
        plan_memory(nucleo, b, 700_000, 10_000)
    with pytest.raises(TsError, match=r"does not fit board 'nucleo-l4r5zi' flash: model 2,100,000 B"):
        plan_memory(nucleo, b, 10_000, 2_100_000)
    disco = load_board("disco-f746ng")
    plan = plan_memory(disco, b, 1_000_000, 10_000)  # too big for 320 KB: the arena goes to the SDRAM
    assert plan.arena_in_ext and not plan.ring_in_ext
    with pytest.raises(TsError, match="8,388,608 B of external RAM"):
        plan_memory(disco, b, 9_000_000, 10_000)


def test_build_fails_with_numbers_when_the_plan_is_too_big(bundle, monkeypatch):
    """A model whose arena the board cannot hold stops the build before compiling, with the numbers."""
    import tinyscene.deploy.classifier as clf

    real = clf.compile_graph

    def huge(*a, **k):
        c = real(*a, **k)
        c.plan.arena_bytes = 650_000
        return c

    monkeypatch.setattr(clf, "compile_graph", huge)
    build_classifier = clf.build_classifier
    with pytest.raises(TsError, match=r"model arena 650,000 B.*the board has"):
        build_classifier(bundle, "nucleo-l4r5zi")


@pytest.mark.parametrize("name,tool,words", [
    ("disco-f746ng", None, ["openocd", "-f", "board/stm32f746g-disco.cfg", "program"]),
    ("nucleo-l4r5zi", None, ["openocd", "interface/stlink.cfg", "target/stm32l4x.cfg", "verify reset exit"]),
    ("nucleo-l4r5zi", "pyocd", ["pyocd", "load", "--target", "stm32l4r5zitx"]),
    ("disco-f746ng", "pyocd", ["pyocd", "load", "--target", "stm32f746nghx"]),
])
def test_flash_dry_run(name, tool, words, bundle, run_cli):
    args = ["flash", "--bundle", bundle, "--board", name, "--dry-run"] + (["--tool", tool] if tool else [])
    rc, out, err = run_cli(*args)
    assert rc == 0, err
    cmd = out.strip().splitlines()[-1]
    for w in words:
        assert w in cmd
    assert "classifier.elf" in cmd and f"{name}-aot" in cmd
    assert "flash" in out and "RAM" in out  # the size summary comes first


def test_flash_without_probe_is_clear(bundle, run_cli):
    rc, _, err = run_cli("flash", "--bundle", bundle, "--board", "nucleo-l4r5zi", "--tool", "pyocd")
    assert rc == 2
    assert "no debug probe connected" in err or "cannot list debug probes" in err
    assert "Traceback" not in err


def test_flash_openocd_missing_or_no_probe(bundle, run_cli, monkeypatch):
    import shutil

    rc, _, err = run_cli("flash", "--bundle", bundle, "--board", "disco-f746ng")
    assert rc == 2
    if shutil.which("openocd"):
        assert "no debug probe connected" in err or "openocd failed" in err
    else:
        assert "openocd not found on PATH" in err and "--tool pyocd" in err


def test_flash_refuses_emulated_board(bundle, run_cli):
    rc, _, err = run_cli("flash", "--bundle", bundle, "--board", "qemu-an386", "--dry-run")
    assert rc == 2 and "cannot be flashed" in err and "tinyscene parity" in err
