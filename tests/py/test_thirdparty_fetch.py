"""Pinned third-party sources (third_party.lock, tinyscene.thirdparty.fetch): the tree digest against a hand
computation; a good archive from an offline mirror; a corrupt archive, a digest mismatch, a missing
mirror or archive, an archive reaching outside its top folder — each a one-line error leaving nothing
in the cache; the download path against a local HTTP server on 127.0.0.1 serving the real mirror
archives (resuming a cut transfer with a Range request); no network."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import tarfile
from pathlib import Path

import pytest

from range_server import RangeServer
from tinyscene.errors import TsError
from tinyscene.paths import REPO_ROOT
from tinyscene.thirdparty import fetch as F

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MIRROR = Path(os.environ.get("TS_THIRD_PARTY_MIRROR") or REPO_ROOT.parent / "shared" / "third_party")
HAVE_MIRROR = (MIRROR / "ruy-d37128311b445e758136b8602d1bbd2a755e115d.tar.gz").is_file()


def _tar(files: dict[str, bytes], top: str, links: dict[str, str] | None = None, level: int = 9,
         reverse: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(files.items(), reverse=reverse):
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return gzip.compress(buf.getvalue(), compresslevel=level, mtime=0)


FILES = {"README.md": b"a tiny pinned source\n", "src/a.c": b"int a;\n", "src/b/c.h": b"#define C 1\n",
         "empty.txt": b""}


def _hand_digest(files: dict[str, bytes], links: dict[str, str]) -> str:
    """The documented definition, written out independently of tree_digest's directory walk."""
    entries = [(p, b"f", d) for p, d in files.items()] + [(p, b"l", t.encode()) for p, t in links.items()]
    h = hashlib.sha256()
    for path, kind, data in sorted(entries, key=lambda e: e[0].encode()):
        h.update(kind + path.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "third_party"


def _lock(tmp_path: Path, digest: str, name: str = "tiny", commit: str = COMMIT) -> Path:
    p = tmp_path / "third_party.lock"
    p.write_text(f'[[source]]\nrepository = "someone/{name}"\ncommit = "{commit}"\ntree_sha256 = "{digest}"\n')
    return p


def _leftovers(cache: Path) -> list[str]:
    """What a failed fetch must not leave: extracted trees, temporary folders, stamps."""
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock") and p.name != ".downloads")


def test_tree_digest_is_the_documented_hash_and_ignores_compression(tmp_path):
    links = {"src/link.h": "b/c.h"}
    want = _hand_digest(FILES, links)
    src = F.Source("tiny", "someone/tiny", COMMIT, want)
    for level, reverse in ((1, False), (9, True)):
        arch = tmp_path / f"l{level}" / src.archive_name
        arch.parent.mkdir()
        arch.write_bytes(_tar(FILES, src.stem, links, level=level, reverse=reverse))
        root = F.extract(src, arch, tmp_path / f"x{level}")
        assert F.tree_digest(root) == want
    # one changed byte, or a renamed file, is another tree
    other = dict(FILES, **{"src/a.c": b"int b;\n"})
    assert _hand_digest(other, links) != want


def test_mirror_good_archive_then_skipped(tmp_path, cache, monkeypatch):
    digest = _hand_digest(FILES, {})
    lock = _lock(tmp_path, digest)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"tiny-{COMMIT}.tar.gz").write_bytes(_tar(FILES, f"tiny-{COMMIT}"))
    monkeypatch.setenv(F.MIRROR_ENV, str(mirror))
    out = F.fetch(progress=False, lock_path=lock)
    root = out["tiny"]
    assert root == cache / f"tiny-{COMMIT}"
    assert (root / "src/b/c.h").read_bytes() == FILES["src/b/c.h"]
    assert F.tree_digest(root) == digest
    # a second fetch finds the stamp and does not extract again
    monkeypatch.setattr(F, "extract", lambda *a, **k: pytest.fail("extracted twice"))
    assert F.fetch(progress=False, lock_path=lock)["tiny"] == root


def test_corrupt_archive_is_refused_and_leaves_nothing(tmp_path, cache, monkeypatch):
    lock = _lock(tmp_path, _hand_digest(FILES, {}))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    good = _tar(FILES, f"tiny-{COMMIT}")
    (mirror / f"tiny-{COMMIT}.tar.gz").write_bytes(good[: len(good) // 2])  # truncated
    monkeypatch.setenv(F.MIRROR_ENV, str(mirror))
    with pytest.raises(TsError, match=r"tiny-0123456789abcdef.*\.tar\.gz: not a valid \.tar\.gz archive"):
        F.fetch(progress=False, lock_path=lock)
    assert _leftovers(cache) == []


def test_digest_mismatch_is_refused_and_leaves_nothing(tmp_path, cache, monkeypatch):
    lock = _lock(tmp_path, "ab" * 32)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"tiny-{COMMIT}.tar.gz").write_bytes(_tar(FILES, f"tiny-{COMMIT}"))
    monkeypatch.setenv(F.MIRROR_ENV, str(mirror))
    with pytest.raises(TsError) as e:
        F.fetch(progress=False, lock_path=lock)
    msg = str(e.value)
    assert "tree digest mismatch" in msg and "expected abababab" in msg
    assert f"got {_hand_digest(FILES, {})[:16]}" in msg and "nothing was installed" in msg
    assert _leftovers(cache) == []


def test_missing_mirror_folder_or_archive(tmp_path, cache, monkeypatch):
    lock = _lock(tmp_path, _hand_digest(FILES, {}))
    monkeypatch.setenv(F.MIRROR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(TsError, match=r"TS_THIRD_PARTY_MIRROR=.*nowhere: no such folder"):
        F.fetch(progress=False, lock_path=lock)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(F.MIRROR_ENV, str(tmp_path / "empty"))
    with pytest.raises(TsError, match=rf"no tiny-{COMMIT}\.tar\.gz .* in the mirror"):
        F.fetch(progress=False, lock_path=lock)
    assert _leftovers(cache) == []


def test_member_outside_top_folder_is_refused(tmp_path, cache, monkeypatch):
    lock = _lock(tmp_path, _hand_digest(FILES, {}))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"tiny-{COMMIT}.tar.gz").write_bytes(_tar(FILES, "elsewhere"))
    monkeypatch.setenv(F.MIRROR_ENV, str(mirror))
    with pytest.raises(TsError, match="outside the expected top folder"):
        F.fetch(progress=False, lock_path=lock)
    assert _leftovers(cache) == []


def test_lock_file_pins_every_source_and_bad_lock_is_clear(tmp_path):
    lock = F.load_lock()
    assert set(lock) == {"tflite-micro", "CMSIS-NN", "CMSIS_6", "flatbuffers", "gemmlowp", "ruy", "CMSIS-DSP"}
    assert lock["CMSIS-DSP"].paths == ("Include", "PrivateInclude", "Source", "LICENSE", "README.md")
    assert all(not s.paths for n, s in lock.items() if n != "CMSIS-DSP")
    assert lock["tflite-micro"].url() == (
        "https://github.com/tensorflow/tflite-micro/archive/90b983c2b3f1480642e040bbd2ddb37b998f3424.tar.gz")
    bad = tmp_path / "bad.lock"
    bad.write_text('[[source]]\nrepository = "x/y"\ncommit = "123"\ntree_sha256 = "00"\n')
    with pytest.raises(TsError, match="commit 40 hex digits"):
        F.load_lock(bad)
    bad.write_text(f'[[source]]\nrepository = "x/y"\ncommit = "{COMMIT}"\ntree_sha256 = "{"0" * 64}"\n'
                   'paths = ["src/a.c"]\n')
    with pytest.raises(TsError, match="paths must be a list of top-level"):
        F.load_lock(bad)


def test_partial_pin_verifies_a_full_archive_and_a_partial_one(tmp_path, cache, monkeypatch):
    """A source pinned by `paths`: the archive with every file (as the source host serves it) and one
    holding only the pinned paths (the mirror) give the same tree; a changed pinned file is refused."""
    part = {"src/a.c": FILES["src/a.c"], "src/b/c.h": FILES["src/b/c.h"], "README.md": FILES["README.md"]}
    digest = _hand_digest(part, {})
    lock = tmp_path / "third_party.lock"
    lock.write_text(f'[[source]]\nrepository = "someone/tiny"\ncommit = "{COMMIT}"\ntree_sha256 = "{digest}"\n'
                    'paths = ["src", "README.md"]\n')
    full = dict(FILES, **{"notebooks/x.ipynb": b"{}", "Testing/data.bin": b"\0" * 100})
    for i, files in enumerate((full, part)):
        mirror = tmp_path / f"mirror{i}"
        mirror.mkdir()
        (mirror / f"tiny-{COMMIT}.tar.gz").write_bytes(_tar(files, f"tiny-{COMMIT}"))
        monkeypatch.setenv(F.MIRROR_ENV, str(mirror))
        root = F.fetch(progress=False, lock_path=lock)["tiny"]
        assert sorted(p.name for p in root.iterdir()) == ["README.md", "src"]
        assert F.tree_digest(root) == digest
        import shutil

        shutil.rmtree(cache)
    bad = dict(part, **{"src/a.c": b"int c;\n"})
    (tmp_path / "mirror1" / f"tiny-{COMMIT}.tar.gz").write_bytes(_tar(bad, f"tiny-{COMMIT}"))
    with pytest.raises(TsError) as e:
        F.fetch(progress=False, lock_path=lock)
    assert "tree digest mismatch" in str(e.value) and "(src, README.md)" in str(e.value)
    assert "\n" not in str(e.value) and _leftovers(cache) == []


@pytest.mark.skipif(not HAVE_MIRROR, reason="no offline mirror of the pinned archives on this machine")
def test_download_from_local_http_server_resumes_and_verifies(tmp_path, cache, monkeypatch):
    """The real lock and the real archives (ruy and gemmlowp, the small ones), served over HTTP: the
    first transfer of each is cut halfway; the second run resumes it with a Range request."""
    monkeypatch.delenv(F.MIRROR_ENV, raising=False)
    lock = F.load_lock()
    names = ["ruy", "gemmlowp"]
    files = {f"{lock[n].owner}/{n}/archive/{lock[n].commit}.tar.gz": (MIRROR / lock[n].archive_name).read_bytes()
             for n in names}
    with RangeServer(files) as srv:
        template = srv.root + "{owner}/{repo}/archive/{commit}.tar.gz"
        srv.cuts = {name: [len(data) // 2] for name, data in files.items()}  # the first transfer: half
        with pytest.raises(TsError, match="(interrupted|stopped at).*run the command again to resume it"):
            F.fetch(names, progress=False, url_template=template)
        parts = list((cache / ".downloads").glob("*.part"))
        assert len(parts) == 1 and 0 < parts[0].stat().st_size
        assert _leftovers(cache) == []
        srv.cuts = {}
        out = F.fetch(names, progress=False, url_template=template)
    ranges = [r for _, r, _ in srv.log]
    assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges
    for n in names:
        assert F.is_fetched(lock[n]) and F.tree_digest(out[n]) == lock[n].tree_sha256
    assert not list((cache / ".downloads").iterdir())  # archives removed once extracted
    assert F.verify(names) == {n: True for n in names}


def test_no_mirror_and_no_network_is_one_clear_line(tmp_path, cache, monkeypatch):
    monkeypatch.delenv(F.MIRROR_ENV, raising=False)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    with pytest.raises(TsError) as e:
        F.fetch(["ruy"], progress=False, url_template=f"http://127.0.0.1:{port}/{{owner}}/{{repo}}/{{commit}}.tar.gz")
    msg = str(e.value)
    assert msg.startswith("ruy: cannot download http://127.0.0.1:") and "TS_THIRD_PARTY_MIRROR" in msg
    assert "\n" not in msg and _leftovers(cache) == []


def test_cli_fetch_and_verify_against_the_mirror(tmp_path, cache, monkeypatch, run_cli):
    if not HAVE_MIRROR:
        pytest.skip("no offline mirror of the pinned archives on this machine")
    monkeypatch.setenv(F.MIRROR_ENV, str(MIRROR))
    rc, out, err = run_cli("third-party", "fetch", "--only", "ruy", "--quiet")
    assert rc == 0, err
    assert "google/ruy" in out and "d37128311b44" in out
    rc, out, err = run_cli("third-party", "verify", "--only", "ruy")
    assert rc == 0 and "ok" in out
    # a file edited in the cache is caught by verify
    src = F.source_dir(F.load_lock()["ruy"])
    victim = next(p for p in sorted(src.rglob("*.h")))
    victim.write_bytes(victim.read_bytes() + b"\n")
    rc, out, err = run_cli("third-party", "verify", "--only", "ruy")
    assert rc == 2 and "does not match third_party.lock" in err
    rc, out, err = run_cli("third-party", "digest", str(MIRROR / F.load_lock()["ruy"].archive_name))
    assert rc == 0 and out.strip() == F.load_lock()["ruy"].tree_sha256
    dsp = F.load_lock()["CMSIS-DSP"]
    rc, out, err = run_cli("third-party", "digest", "--paths", ",".join(dsp.paths), str(MIRROR / dsp.archive_name))
    assert rc == 0 and out.strip() == dsp.tree_sha256


def test_cmsis_dsp_missing_or_wrong_is_one_line(tmp_path, cache, monkeypatch):
    """bench-fe's CMSIS-DSP (tinyscene.frontend.cmsisdsp) comes from the pinned, fetched sources: absent
    from the mirror, or another tree under its name, is one line naming it."""
    from tinyscene.frontend import cmsisdsp

    dsp = F.load_lock()["CMSIS-DSP"]
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(F.MIRROR_ENV, str(tmp_path / "empty"))
    with pytest.raises(TsError) as e:
        cmsisdsp.source_dirs()
    assert "CMSIS" in str(e.value) and "\n" not in str(e.value)
    fake = tmp_path / "fake"
    fake.mkdir()
    top = f"CMSIS-DSP-{dsp.commit}"
    (fake / f"{top}.tar.gz").write_bytes(_tar({"Include/arm_math.h": b"/* not CMSIS-DSP */\n", "README.md": b"x"},
                                              top))
    if HAVE_MIRROR:  # CMSIS_6 (its Core headers) from the real mirror
        for p in MIRROR.glob("CMSIS_6-*"):
            (fake / p.name).symlink_to(p)
    monkeypatch.setenv(F.MIRROR_ENV, str(fake))
    with pytest.raises(TsError) as e:
        cmsisdsp.source_dirs()
    msg = str(e.value)
    assert ("tree digest mismatch for ARM-software/CMSIS-DSP" in msg) if HAVE_MIRROR else ("CMSIS_6" in msg)
    assert "\n" not in str(e.value) and not F.is_fetched(dsp)
