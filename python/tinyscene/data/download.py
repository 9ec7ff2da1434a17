"""Download the TAU Urban Acoustic Scenes 2020 3Class development set (zenodo record 3670185).

`tinyscene data download --out DIR [--base-url URL]` fetches every archive of ARCHIVES into a
staging folder beside DIR (`.DIR.download/`), resuming a `.part` file with an HTTP Range request
after an interrupted transfer (here or in an earlier run), checks each archive's size and digests,
then unpacks them all into a temporary folder that is renamed to DIR only once everything is in
place, in the TAU layout (DIR/meta.csv, DIR/evaluation_setup/, DIR/audio/).

What is verified, honestly: zenodo publishes an md5 per file, and those md5 (with the byte
sizes) are what the official table below holds; we do not have sha256 digests of the official
archives, so for them the check is size + md5. Every archive's sha256 is computed while it
downloads, printed, and written to DIR/download.json, so a later download can be pinned to it
with `--table` (a JSON list of {"name", "size", "sha256" and/or "md5"}); a table entry with a
sha256 is checked against it. The tests use such a table with sha256 digests of fake archives.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tinyscene.data.tau import usual_mode
from tinyscene.errors import TsError
from tinyscene.util.atomic import atomic_dir, write_json

BASE_URL = "https://zenodo.org/records/3670185/files/"
TOP_DIR = "TAU-urban-acoustic-scenes-2020-3class-development"
CHUNK = 1 << 20
RETRIES = 5
TIMEOUT_S = 60


@dataclass(frozen=True)
class Archive:
    name: str
    size: int
    md5: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        if not (self.md5 or self.sha256):
            raise TsError(f"archive table: {self.name} has neither an md5 nor a sha256 to check it against")


def _official() -> tuple[Archive, ...]:
    base = TOP_DIR
    audio = (  # (bytes, md5) of audio.1.zip .. audio.21.zip, as the zenodo record lists them
        (1657560336, "dab8b3564c1927eb8fc5906f61917ef9"), (1654366875, "82995465514560a3dff486ffc1b77cab"),
        (1817911349, "fda4f39dae354d6eea8662c4f8228b70"), (1818799452, "6795666e7e872114a0bd8b7dea333761"),
        (1803128209, "0920299dd8600c3fec421af79588535b"), (1777403835, "65fab659046ef15c8ae3e15025737551"),
        (1747963586, "55dd8e47bd868611d5e7bacad57b96b5"), (1720046267, "9fdae7f1658160d6c4d844d642c1e762"),
        (1667115976, "6178c22394a3bf0f67b2c47d1690c6d7"), (1615255858, "d054358cfd7c9b568c03c2c87f6461c4"),
        (1671803243, "fcbb4d5835f030819e099fc0701932dc"), (1660209697, "92e6347acf82226d1458859b7ca281ba"),
        (1673491310, "99570283c1dd64aaf954eb526fd2e394"), (1660091069, "13efa3cd2084ccdba76b1087a4fac57f"),
        (1675136726, "1e3cc2fed352cf9331a815f2c969458a"), (1648250719, "d232c47c39d9f2683ef805565ad9b068"),
        (1693567638, "75bd9417b8134476122c7f8a8fb11d4b"), (1731103523, "ae04e9ed8da615b2f1f9aa5e02b9c3f2"),
        (1745163308, "284fe9195bdbd5159438bac5ea4595e1"), (1774048510, "7e2f15f5f19114ffcb0b94f0a15fa272"),
        (1331132724, "e5d0491071d6a652fe3693586770fdc0"),
    )
    return (Archive(f"{base}.doc.zip", 12026, md5="1f50091832fef59ef79f7b7fcfc91525"),
            Archive(f"{base}.meta.zip", 154856, md5="68de6dc1a81f8ef9c3a7851acda67786"),
            *(Archive(f"{base}.audio.{i}.zip", size, md5=md5) for i, (size, md5) in enumerate(audio, start=1)))


# The official development archives (about 35 GB in all).
ARCHIVES: tuple[Archive, ...] = _official()


def load_table(path: str | os.PathLike) -> tuple[Archive, ...]:
    """An archive table from JSON: a list of {"name", "size", "sha256" and/or "md5"}."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise TsError(f"{path}: not a readable JSON archive table ({e})") from None
    if not isinstance(rows, list) or not rows:
        raise TsError(f"{path}: an archive table is a non-empty JSON list of objects")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not isinstance(r.get("size"), int):
            raise TsError(f"{path}: entry {i} needs a string 'name' and an integer 'size'")
        name = r["name"]
        if "/" in name or "\\" in name or name.startswith("."):
            raise TsError(f"{path}: entry {i}: '{name}' must be a plain file name")
        out.append(Archive(name, r["size"], md5=r.get("md5"), sha256=r.get("sha256")))
    return tuple(out)


def _digests(path: Path) -> dict[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def verify(path: Path, archive: Archive) -> dict[str, str]:
    """Size and every digest the table has; returns both digests of the file."""
    size = path.stat().st_size
    if size != archive.size:
        raise TsError(f"{archive.name}: {size} bytes, the table says {archive.size}")
    got = _digests(path)
    for algo in ("sha256", "md5"):
        want = getattr(archive, algo)
        if want and want.lower() != got[algo]:
            raise TsError(f"{archive.name}: checksum mismatch ({algo} {got[algo]}, expected {want}); "
                          "the download was removed, run the command again to fetch it anew")
    return got


def _open(url: str, start: int):
    req = urllib.request.Request(url, headers={"User-Agent": "tinyscene"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(req, timeout=TIMEOUT_S)


def fetch(url: str, dest: Path, archive: Archive, progress: bool = True) -> None:
    """Download url into dest (via dest.part, resumed with Range when it exists), up to RETRIES
    interruptions in this call; leaves dest complete or raises TsError (keeping the .part)."""

    part = dest.with_name(dest.name + ".part")
    last_error = ""
    attempts = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if have > archive.size:
            part.unlink()
            have = 0
        if have == archive.size:
            break
        if attempts == RETRIES:
            raise TsError(f"{url}: transfer interrupted {RETRIES} times ({last_error}); {have} of {archive.size} "
                          "bytes kept, run the command again to resume")
        attempts += 1
        try:
            with _open(url, have) as resp:
                status = getattr(resp, "status", 200)
                if have and status != 206:  # the server ignored the range: start again
                    have = 0
                mode = "ab" if have else "wb"
                with open(part, mode) as f, tqdm(total=archive.size, initial=have, unit="B", unit_scale=True,
                                                 desc=archive.name[-24:], disable=not progress, leave=False) as bar:
                    while block := resp.read(CHUNK):
                        f.write(block)
                        bar.update(len(block))
            got = part.stat().st_size
            if got < archive.size:  # the server closed the connection early: resume
                last_error = f"connection closed at byte {got}"
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # nothing left to send: the .part is as long as the file
                break
            raise TsError(f"{url}: HTTP {e.code} {e.reason}") from None
        except urllib.error.URLError as e:  # could not connect at all
            kept = f"; {have} bytes kept in {part.name}, run again to resume" if have else ""
            raise TsError(f"{url}: cannot download ({e.reason}){kept}") from None
        except (http.client.HTTPException, OSError) as e:  # cut off mid-transfer: resume from the .part
            last_error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    os.replace(part, dest)


def _extract(zip_path: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as z:
            for info in z.infolist():
                p = Path(info.filename)
                if p.is_absolute() or ".." in p.parts:
                    raise TsError(f"{zip_path.name}: unsafe member path {info.filename}")
            z.extractall(into)
    except zipfile.BadZipFile as e:
        raise TsError(f"{zip_path.name}: not a valid zip archive ({e})") from None


def _merge(src: Path, dst: Path) -> None:
    """Move the tree src into dst (folders merged: audio/ arrives in many archives)."""
    for item in src.iterdir():
        target = dst / item.name
        if item.is_dir() and target.is_dir():
            _merge(item, target)
        else:
            os.replace(item, target)


def download(out: str | os.PathLike, base_url: str = BASE_URL, table: tuple[Archive, ...] = ARCHIVES,
             force: bool = False, keep_archives: bool = False, progress: bool = True) -> Path:
    """Fetch, verify and unpack the archives of `table` into `out` (the TAU layout)."""

    out = Path(out)
    if out.exists() and not force:
        raise TsError(f"{out}: already exists (use --force to replace it)")
    if not base_url.endswith("/"):
        base_url += "/"
    stage = out.parent / f".{out.name}.download"
    stage.mkdir(parents=True, exist_ok=True)
    digests = {}
    for a in table:
        dest = stage / a.name
        if not dest.exists():
            fetch(base_url + a.name, dest, a, progress)
        try:
            digests[a.name] = verify(dest, a)
        except TsError:
            dest.unlink()
            raise
        print(f"{a.name}: ok ({a.size} bytes, sha256 {digests[a.name]['sha256']})")
    with atomic_dir(out, force=force) as tmp:
        usual_mode(tmp)
        for a in table:
            _extract(stage / a.name, tmp)
        top = tmp / TOP_DIR
        if top.is_dir():  # the official archives hold TAU-urban-...-development/<files>
            _merge(top, tmp)
            shutil.rmtree(top)
        if not (tmp / "meta.csv").is_file():
            raise TsError(f"{base_url}: the archives hold no meta.csv (not the TAU layout)")
        write_json(tmp / "download.json", {"base_url": base_url, "archives": [
            {"name": a.name, "size": a.size, **digests[a.name]} for a in table]})
    if not keep_archives:
        shutil.rmtree(stage, ignore_errors=True)
    return out
