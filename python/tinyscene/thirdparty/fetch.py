"""Pinned third-party C sources for the TFLM runtime: fetched, verified, never vendored.

`third_party.lock` (repository root) pins each source by repository, commit and `tree_sha256`, a
digest of the extracted file tree (see `tree_digest`), so the pin does not depend on how an archive
was compressed. `fetch()` gets each archive `<repo>-<commit>.tar.gz` (top folder `<repo>-<commit>/`)

  * from the folder named by TS_THIRD_PARTY_MIRROR, when it is set (an offline mirror), else
  * from the source host's archive URL for that commit (TS_THIRD_PARTY_URL overrides the template
    https://github.com/{owner}/{repo}/archive/{commit}.tar.gz; `{owner}`, `{repo}`, `{commit}`),

extracts it into a temporary folder beside the cache (keeping only the lock's `paths`, when a source
names some: a pin of part of a repository, so that a full archive and a mirror holding only those
paths give the same tree), checks the tree digest, and only then renames
it to `cache_dir()/third_party/<repo>-<commit>/` with a `.verified` stamp beside it. A download
resumes an earlier `.part` with an HTTP Range request; sources already in place are skipped. A
mismatch or a corrupt archive is refused with one line naming the file and the digests, and leaves
nothing in the cache.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tinyscene.errors import TsError
from tinyscene.paths import REPO_ROOT, cache_dir
from tinyscene.util.atomic import write_json
from tinyscene.util.lock import file_lock

LOCK_FILE = REPO_ROOT / "third_party.lock"
MIRROR_ENV = "TS_THIRD_PARTY_MIRROR"
URL_ENV = "TS_THIRD_PARTY_URL"
DEFAULT_URL = "https://github.com/{owner}/{repo}/archive/{commit}.tar.gz"
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class Source:
    name: str  # the repository's name, e.g. tflite-micro
    repository: str  # owner/name on the source host
    commit: str  # 40 hex digits
    tree_sha256: str
    note: str = ""
    paths: tuple[str, ...] = ()  # the pinned part of the repository (top-level files/folders); () = all

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def stem(self) -> str:
        """`<repo>-<commit>`: the archive's top folder and the mirror file's name without .tar.gz."""
        return f"{self.name}-{self.commit}"

    @property
    def archive_name(self) -> str:
        return f"{self.stem}.tar.gz"

    def url(self, template: str | None = None) -> str:
        t = template or os.environ.get(URL_ENV) or DEFAULT_URL
        return t.format(owner=self.owner, repo=self.name, commit=self.commit)


def load_lock(path: Path = LOCK_FILE) -> dict[str, Source]:
    """The pinned sources, by name."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise TsError(f"{path}: cannot read the third-party lock file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise TsError(f"{path}: not valid TOML ({e})") from None
    out: dict[str, Source] = {}
    for i, row in enumerate(data.get("source", [])):
        try:
            repo, commit, digest = row["repository"], row["commit"], row["tree_sha256"]
        except (KeyError, TypeError):
            raise TsError(f"{path}: [[source]] #{i + 1} needs repository, commit and tree_sha256") from None
        if repo.count("/") != 1 or len(commit) != 40 or len(digest) != 64:
            raise TsError(f"{path}: [[source]] #{i + 1}: repository must be owner/name, commit 40 hex "
                          "digits, tree_sha256 64 hex digits")
        paths = row.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(q, str) and q and "/" not in q.strip("/")
                                                  and q not in (".", "..") for q in paths):
            raise TsError(f"{path}: [[source]] #{i + 1}: paths must be a list of top-level file or folder names")
        name = repo.split("/")[1]
        out[name] = Source(name=name, repository=repo, commit=commit.lower(), tree_sha256=digest.lower(),
                           note=str(row.get("note", "")), paths=tuple(q.strip("/") for q in paths))
    if not out:
        raise TsError(f"{path}: no [[source]] entries")
    return out


def tree_digest(root: Path) -> str:
    """sha256 over a file tree, independent of archive format and compression.

    Every regular file and symbolic link under `root` (directories themselves are not hashed), in
    order of their '/'-separated relative paths, contributes: a kind byte (b'f' file, b'l' link),
    the path in UTF-8, a NUL, the content's length as 8 bytes big-endian, then the content (the
    file's bytes, or the link's target). File modes and times are not part of it.
    """
    root = Path(root)
    entries: list[tuple[str, Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for name in dirnames:
            if (d / name).is_symlink():
                entries.append(((d / name).relative_to(root).as_posix(), d / name, True))
        for name in filenames:
            p = d / name
            entries.append((p.relative_to(root).as_posix(), p, p.is_symlink()))
    h = hashlib.sha256()
    for rel, p, is_link in sorted(entries, key=lambda e: e[0].encode()):
        if is_link:
            target = os.readlink(p).encode()
            h.update(b"l" + rel.encode() + b"\0" + len(target).to_bytes(8, "big") + target)
            continue
        h.update(b"f" + rel.encode() + b"\0" + p.stat().st_size.to_bytes(8, "big"))
        with open(p, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
    return h.hexdigest()


def keep_paths(root: Path, paths: tuple[str, ...]) -> None:
    """Remove everything under `root` but the top-level entries named in `paths` (no-op when empty)."""
    if not paths:
        return
    for entry in Path(root).iterdir():
        if entry.name not in paths:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def third_party_dir() -> Path:
    return cache_dir() / "third_party"


def source_dir(src: Source) -> Path:
    return third_party_dir() / src.stem


def _stamp(src: Source) -> Path:
    return third_party_dir() / f"{src.stem}.verified"


def is_fetched(src: Source) -> bool:
    """True when the verified tree of `src` is in the cache (stamp matches the lock)."""
    stamp = _stamp(src)
    if not (stamp.exists() and source_dir(src).is_dir()):
        return False
    try:
        return json.loads(stamp.read_text()).get("tree_sha256") == src.tree_sha256
    except ValueError:
        return False


def cache_lock(name: str):
    """An exclusive lock between processes (pytest workers, two shells) on one cache entry."""
    return file_lock(third_party_dir() / f".{name}.lock")


def _mirror() -> Path | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    mirror = Path(value).expanduser()
    if not mirror.is_dir():
        raise TsError(f"{MIRROR_ENV}={value}: no such folder (it should hold the <repo>-<commit>.tar.gz "
                      "archives; unset it to download from the source host)")
    return mirror


def _download(src: Source, url: str, dest: Path, progress: bool) -> None:
    """Fetch `url` into `dest`, resuming `dest.part` with a Range request when one is there."""
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "tinyscene"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    try:
        resp = urllib.request.urlopen(req, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # the .part is already complete (or bigger): start over
            part.unlink()
            return _download(src, url, dest, progress)
        raise TsError(f"{src.name}: cannot download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise TsError(f"{src.name}: cannot download {url}: {reason} (no network? set {MIRROR_ENV} to a "
                      f"folder holding {src.archive_name})") from None
    with resp:
        mode = "ab" if (start and resp.status == 206) else "wb"
        done = start if mode == "ab" else 0
        length = resp.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else None
        bar = None
        if progress:

            bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=f"download {src.name}",
                       leave=False, disable=None)
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise TsError(f"{src.name}: download of {url} interrupted after {done:,} bytes "
                                      f"({e}); run the command again to resume it") from None
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    if bar:
                        bar.update(len(block))
        finally:
            if bar:
                bar.close()
    if total is not None and done != total:
        raise TsError(f"{src.name}: download of {url} stopped at {done:,} of {total:,} bytes; run the "
                      "command again to resume it")
    os.replace(part, dest)


def extract(src: Source, archive: Path, into: Path) -> Path:
    """Extract `archive` into the empty folder `into`; returns the top folder `<repo>-<commit>/`."""
    top = src.stem
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                if m.name != top and not m.name.startswith(top + "/"):
                    raise TsError(f"{archive}: member '{m.name}' is outside the expected top folder '{top}/'")
            tar.extractall(into, members=members, filter="data")
    except TsError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise TsError(f"{archive}: not a valid .tar.gz archive ({type(e).__name__}: {e})") from None
    root = into / top
    if not root.is_dir():
        raise TsError(f"{archive}: no top folder '{top}/' in the archive")
    return root


def fetch_one(src: Source, *, progress: bool = True, url_template: str | None = None) -> Path:
    """Make the verified tree of `src` available in the cache; returns its folder."""
    dest = source_dir(src)
    with cache_lock(src.stem):
        if is_fetched(src):
            return dest
        base = third_party_dir()
        if dest.exists():  # left without a stamp (interrupted between rename and stamp): check it
            if tree_digest(dest) == src.tree_sha256:
                _write_stamp(src)
                return dest
            shutil.rmtree(dest)
        for stale in base.glob(f".{src.stem}.*.tmp"):  # left by an extraction that was killed
            shutil.rmtree(stale, ignore_errors=True)
        mirror = _mirror()
        downloaded = None
        if mirror is not None:
            archive = mirror / src.archive_name
            if not archive.is_file():
                raise TsError(f"{MIRROR_ENV}={mirror}: no {src.archive_name} ({src.repository} at "
                              f"{src.commit[:12]}) in the mirror")
        else:
            downloads = base / ".downloads"
            downloads.mkdir(parents=True, exist_ok=True)
            archive = downloads / src.archive_name
            if not archive.exists():
                _download(src, src.url(url_template), archive, progress)
            downloaded = archive
        tmp = Path(tempfile.mkdtemp(prefix=f".{src.stem}.", suffix=".tmp", dir=base))
        try:
            root = extract(src, archive, tmp)
            keep_paths(root, src.paths)
            got = tree_digest(root)
            if got != src.tree_sha256:
                part = f" ({', '.join(src.paths)})" if src.paths else ""
                raise TsError(f"{archive}: tree digest mismatch for {src.repository} at {src.commit[:12]}{part}: "
                              f"expected {src.tree_sha256[:16]}…, got {got[:16]}… ({LOCK_FILE.name}); "
                              "refused, nothing was installed")
            os.replace(root, dest)
            _write_stamp(src)
        except TsError:
            if downloaded is not None:  # a corrupt or wrong download: fetch it anew next time
                downloaded.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)
    return dest


def _write_stamp(src: Source) -> None:
    write_json(_stamp(src), {"repository": src.repository, "commit": src.commit, "tree_sha256": src.tree_sha256})


def fetch(names: list[str] | None = None, *, progress: bool = True, url_template: str | None = None,
          lock_path: Path = LOCK_FILE) -> dict[str, Path]:
    """Fetch the named sources (default: all in the lock file); returns {name: folder}."""
    lock = load_lock(lock_path)
    wanted = names or list(lock)
    unknown = [n for n in wanted if n not in lock]
    if unknown:
        raise TsError(f"{lock_path.name}: no source named {', '.join(unknown)} (known: {', '.join(lock)})")
    return {n: fetch_one(lock[n], progress=progress, url_template=url_template) for n in wanted}


def sources(names: list[str] | None = None) -> dict[str, Path]:
    """The folders of the fetched sources, fetching any that are missing."""
    lock = load_lock()
    wanted = names or list(lock)
    if all(n in lock and is_fetched(lock[n]) for n in wanted):
        return {n: source_dir(lock[n]) for n in wanted}
    return fetch(wanted, progress=True)


def verify(names: list[str] | None = None) -> dict[str, bool]:
    """Recompute the tree digest of each fetched source; {name: matches the lock}."""
    lock = load_lock()
    out = {}
    for n in names or list(lock):
        src = lock[n]
        d = source_dir(src)
        out[n] = d.is_dir() and tree_digest(d) == src.tree_sha256
    return out
