"""A real acoustic scene: the 10 s binaural example recording shipped inside dcase_util's sdist.

`example_wav()` returns it from the user cache (tinyscene.paths.cache_dir()/acoustic_scene.wav),
fetching it the first time with `pip download --no-deps dcase_util==0.2.20` (PyPI, through pip's
own configuration: index, proxy, certificates) and extracting the one file. The file is checked
against its known sha256.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tinyscene.errors import TsError
from tinyscene.paths import cache_dir
from tinyscene.util.atomic import write_bytes

PACKAGE = "dcase_util==0.2.20"
MEMBER = "dcase_util/utils/example_data/acoustic_scene.wav"
FILE_NAME = "acoustic_scene.wav"
# 44.1 kHz, 16-bit, 2 channels, 10.000 s; 1,764,048 bytes.
SHA256 = "8b852fdd3e6f475c436c4c21ba3451346f1c302ae8b748dc9c3e3131b0b94e77"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _member(archive: Path) -> bytes:
    """The example wav out of an sdist (.tar.gz) or a wheel (.whl)."""
    try:
        if archive.name.endswith(".whl") or archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                names = [n for n in z.namelist() if n.endswith(MEMBER)]
                if names:
                    return z.read(names[0])
        else:
            with tarfile.open(archive) as t:
                for m in t.getmembers():
                    if m.isfile() and m.name.endswith(MEMBER):
                        f = t.extractfile(m)
                        if f is not None:
                            return f.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        raise TsError(f"{archive.name}: cannot read the package archive ({e})") from None
    raise TsError(f"{archive.name}: holds no {MEMBER}")


def fetch(dest: Path) -> Path:
    """pip download the package into a temporary folder and extract the wav to dest (atomically)."""

    with tempfile.TemporaryDirectory(prefix="tinyscene-example-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--quiet", PACKAGE, "-d", tmp]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TsError(f"pip download {PACKAGE}: {e}") from None
        if r.returncode != 0:
            lines = [ln for ln in (r.stderr + r.stdout).strip().splitlines() if ln.strip()]
            raise TsError(f"pip download {PACKAGE} failed (is PyPI reachable?): "
                          f"{lines[-1] if lines else 'exit ' + str(r.returncode)}")
        files = sorted(Path(tmp).iterdir())
        if not files:
            raise TsError(f"pip download {PACKAGE}: downloaded nothing")
        data = _member(files[0])
    if _sha256(data) != SHA256:
        raise TsError(f"{files[0].name}: {MEMBER} has sha256 {_sha256(data)}, expected {SHA256}")
    return write_bytes(dest, data)


def example_wav() -> Path:
    """Path of the example recording in the user cache (fetched once, verified each time)."""

    dest = cache_dir() / FILE_NAME
    if dest.is_file() and _sha256(dest.read_bytes()) == SHA256:
        return dest
    return fetch(dest)
