"""`tinyscene data download` against a local HTTP server (127.0.0.1) serving small fake archives
in the official layout, with a fake archive table: unpacking, resume (Range) after a cut transfer
or from an earlier run, a server that ignores Range, checksum/size mismatch, HTTP and network errors."""
from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from range_server import RangeServer
from tinyscene.data import download as dl
from tinyscene.data import tau

TOP = dl.TOP_DIR


def _wav_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    x = 0.1 * np.random.default_rng(seed).standard_normal((9600, 2))
    sf.write(buf, x, 48000, subtype="PCM_24", format="WAV")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def fake_archives() -> dict[str, bytes]:
    """doc, meta and two audio archives, each rooted in the official top folder."""
    scenes = ["airport", "park", "tram"]
    names = [f"audio/{s}-lyon-{k}-0-a.wav" for s in scenes for k in range(2)]
    meta = "filename\tscene_label\tidentifier\n" + "".join(
        f"{n}\t{tau.SCENE_CLASS[n[6:].split('-')[0]]}\tlyon-{n.split('-')[2]}\n" for n in names)
    train = "filename\tscene_label\n" + "".join(f"{n}\t{n[6:].split('-')[0]}\n" for n in names if "-0-0-" in n)
    evaluate = "filename\tscene_label\n" + "".join(f"{n}\t{n[6:].split('-')[0]}\n" for n in names if "-1-0-" in n)
    wavs = {f"{TOP}/{n}": _wav_bytes(i) for i, n in enumerate(names)}
    items = list(wavs.items())
    return {
        f"{TOP}.doc.zip": _zip({f"{TOP}/README.md": b"fake TAU doc\n"}),
        f"{TOP}.meta.zip": _zip({f"{TOP}/meta.csv": meta.encode(),
                                 f"{TOP}/evaluation_setup/fold1_train.csv": train.encode(),
                                 f"{TOP}/evaluation_setup/fold1_evaluate.csv": evaluate.encode()}),
        f"{TOP}.audio.1.zip": _zip(dict(items[:3])),
        f"{TOP}.audio.2.zip": _zip(dict(items[3:])),
    }


class Server(RangeServer):
    """The record's files under /records/1/files/ (the download table's base URL)."""

    def __init__(self, files: dict[str, bytes]):
        super().__init__({f"records/1/files/{k}": v for k, v in files.items()})
        self.url = self.root + "records/1/files/"

    def requests(self, archive: str):
        return [(r, code) for n, r, code in self.log if n.endswith("/" + archive)]


def table_json(path: Path, files: dict[str, bytes], **overrides) -> Path:
    rows = [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()]
    for r in rows:
        r.update(overrides.get(r["name"], {}))
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture
def files():
    return fake_archives()


def _cut(server: Server, name: str, *offsets: int) -> None:
    server.cuts["records/1/files/" + name] = list(offsets)


def test_download_unpacks_into_the_tau_layout(tmp_path, run_cli, files):
    out = tmp_path / "tau"
    with Server(files) as s:
        rc, stdout, err = run_cli("data", "download", "--out", out, "--base-url", s.url,
                                  "--table", table_json(tmp_path / "t.json", files))
    assert rc == 0, err
    assert (out / "meta.csv").is_file() and (out / "README.md").is_file() and not (out / TOP).exists()
    assert len(list((out / "audio").glob("*.wav"))) == 6
    assert tau.class_counts(tau.load_split(out, "train")) == {"indoor": 1, "outdoor": 1, "transportation": 1}
    record = json.loads((out / "download.json").read_text())
    assert [a["sha256"] for a in record["archives"]] == [hashlib.sha256(d).hexdigest() for d in files.values()]
    assert [a["md5"] for a in record["archives"]] == [hashlib.md5(d).hexdigest() for d in files.values()]
    assert not (tmp_path / ".tau.download").exists()  # staging removed
    assert run_cli("data", "info", "--data", out, "--seconds", "0.2")[0] == 0


def test_resumes_after_a_cut_transfer(tmp_path, run_cli, files):
    name = f"{TOP}.audio.1.zip"
    size = len(files[name])
    with Server(files) as s:
        _cut(s, name, size * 2 // 5, size * 3 // 5)  # cut twice, then whole
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url,
                             "--table", table_json(tmp_path / "t.json", files))
        assert rc == 0, err
        assert s.requests(name) == [(None, 200), (f"bytes={size * 2 // 5}-", 206), (f"bytes={size * 3 // 5}-", 206)]
    assert (tmp_path / "tau/audio").is_dir()


def test_resumes_a_part_file_of_an_earlier_run(tmp_path, run_cli, files):
    name = f"{TOP}.audio.2.zip"
    table = table_json(tmp_path / "t.json", files)
    with Server(files) as s:
        _cut(s, name, *([100] * dl.RETRIES))  # this run gives up with 100 bytes kept
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url, "--table", table)
        assert rc == 2 and "interrupted" in err and "run the command again to resume" in err
        assert err.count("\n") == 1
        part = tmp_path / ".tau.download" / (name + ".part")
        assert part.stat().st_size == 100 and not (tmp_path / "tau").exists()
        s.log.clear()
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url, "--table", table)
        assert rc == 0, err
        assert s.requests(name) == [("bytes=100-", 206)]
        assert s.requests(f"{TOP}.meta.zip") == []  # verified archives are not fetched again
    assert len(list((tmp_path / "tau/audio").glob("*.wav"))) == 6


def test_server_ignoring_range_restarts_cleanly(tmp_path, run_cli, files):
    name = f"{TOP}.audio.1.zip"
    stage = tmp_path / ".tau.download"
    stage.mkdir()
    (stage / (name + ".part")).write_bytes(files[name][:500])
    with Server(files) as s:
        s.ignore_range = True
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url,
                             "--table", table_json(tmp_path / "t.json", files))
        assert rc == 0, err
        assert s.requests(name) == [("bytes=500-", 200)]


def test_checksum_mismatch_is_an_error_and_removes_the_file(tmp_path, run_cli, files):
    name = f"{TOP}.meta.zip"
    table = table_json(tmp_path / "t.json", files, **{name: {"sha256": "0" * 64}})
    with Server(files) as s:
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url, "--table", table)
    assert rc == 2 and err.count("\n") == 1
    assert f"{name}: checksum mismatch (sha256 {hashlib.sha256(files[name]).hexdigest()}, expected {'0' * 64})" in err
    assert not (tmp_path / "tau").exists()
    assert not (tmp_path / ".tau.download" / name).exists()
    assert not (tmp_path / ".tau.download" / (name + ".part")).exists()


def test_md5_only_table_and_md5_mismatch(tmp_path, run_cli, files):
    rows = [{"name": n, "size": len(d), "md5": hashlib.md5(d).hexdigest()} for n, d in files.items()]
    rows[0]["md5"] = "f" * 32
    (tmp_path / "t.json").write_text(json.dumps(rows))
    with Server(files) as s:
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url,
                             "--table", tmp_path / "t.json")
    assert rc == 2 and f"{rows[0]['name']}: checksum mismatch (md5" in err


def test_size_mismatch(tmp_path, run_cli, files):
    name = f"{TOP}.doc.zip"
    table = table_json(tmp_path / "t.json", files, **{name: {"size": len(files[name]) + 7}})
    with Server(files) as s:
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url, "--table", table)
    assert rc == 2 and f"{name}: {len(files[name])} bytes, the table says {len(files[name]) + 7}" in err


def test_not_a_zip(tmp_path, run_cli, files):
    name = f"{TOP}.doc.zip"
    files = {**files, name: b"this is not a zip file"}
    with Server(files) as s:
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url,
                             "--table", table_json(tmp_path / "t.json", files))
    assert rc == 2 and f"{name}: not a valid zip archive" in err and not (tmp_path / "tau").exists()


def test_http_and_network_errors(tmp_path, run_cli, files):
    table = table_json(tmp_path / "t.json", {**files, "missing.zip": b"x"})
    with Server(files) as s:
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url, "--table", table)
    assert rc == 2 and "missing.zip: HTTP 404" in err
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau2", "--base-url", f"http://127.0.0.1:{port}/",
                         "--table", table_json(tmp_path / "t2.json", files))
    assert rc == 2 and "cannot download" in err and err.count("\n") == 1
    (tmp_path / "bad.json").write_text('[{"name": "../x.zip", "size": 1, "md5": "0"}]')
    rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau3", "--table", tmp_path / "bad.json")
    assert rc == 2 and "must be a plain file name" in err
    (tmp_path / "tau4").mkdir()
    rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau4")
    assert rc == 2 and "already exists" in err


def test_official_table():
    names = [a.name for a in dl.ARCHIVES]
    assert names == ([f"{TOP}.doc.zip", f"{TOP}.meta.zip"] + [f"{TOP}.audio.{i}.zip" for i in range(1, 22)])
    assert all(re.fullmatch(r"[0-9a-f]{32}", a.md5) for a in dl.ARCHIVES)
    assert len({a.md5 for a in dl.ARCHIVES}) == len(dl.ARCHIVES)
    assert 34e9 < sum(a.size for a in dl.ARCHIVES) < 37e9  # ~35 GB: 14,400 clips of 2.88 MB, zipped
    assert dl.BASE_URL.startswith("https://zenodo.org/") and "3670185" in dl.BASE_URL


def test_completes_on_the_last_allowed_try(tmp_path, run_cli, files):
    name = f"{TOP}.audio.1.zip"
    size = len(files[name])
    cuts = [size * (k + 1) // (dl.RETRIES + 1) for k in range(dl.RETRIES - 1)]
    with Server(files) as s:
        _cut(s, name, *cuts)
        rc, _, err = run_cli("data", "download", "--out", tmp_path / "tau", "--base-url", s.url,
                             "--table", table_json(tmp_path / "t.json", files))
        assert rc == 0, err
        assert len(s.requests(name)) == dl.RETRIES
