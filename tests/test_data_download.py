"""Real-data downloads, tested against a local HTTP server serving archives made by the test."""

import hashlib
import io
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bioimage_course.data import (
    REGISTRY,
    ChecksumError,
    DatasetInfo,
    DatasetUnavailableError,
    RemoteFile,
    cache_dir,
    download,
    fetch_dataset,
    fetch_or_synthetic,
    make_nuclei,
)
from bioimage_course.data.download import ENV_VAR


class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``truncate`` paths send half and hang up."""

    def __init__(self):
        self.files, self.truncate, self.requests = {}, set(), []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests.append(self.path)
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in owner.truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def tiff_bytes(array, pixel_size_um=None):
    import tifffile

    buf = io.BytesIO()
    kwargs = {}
    if pixel_size_um:
        kwargs = dict(resolution=(1e4 / pixel_size_um,) * 2, resolutionunit="CENTIMETER")
    tifffile.imwrite(buf, array, **kwargs)
    return buf.getvalue()


def png_bytes(array):
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", array, extension=".png")


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def dsb_like():
    """A miniature of the StarDist dsb2018.zip layout and the pairs it contains."""
    pairs = {
        "train": [make_nuclei((32, 40), preset="easy", rng=i) for i in range(3)],
        "test": [make_nuclei((32, 40), preset="easy", rng=10)],
    }
    members = {}
    for split, items in pairs.items():
        for i, (image, labels) in enumerate(items):
            members[f"dsb2018/{split}/images/{i}.tif"] = tiff_bytes(image)
            members[f"dsb2018/{split}/masks/{i}.tif"] = tiff_bytes(labels.astype(np.uint16))
    return zip_bytes(members), pairs


def info_for(url, sha256=None, name="mini", reference=None):
    return DatasetInfo(
        name=name,
        description="test data",
        files=(RemoteFile(url, "mini.zip", sha256=sha256, reference_sha256=reference),),
        splits=("train", "test"),
        layout="folders",
        subdir="dsb2018",
        license="CC0",
        citation="none",
        homepage="http://127.0.0.1",
    )


def leftovers(root):
    """Files that would look like a finished download or unpack but are not."""
    return sorted(
        p.name for p in root.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")
    )


def test_success_returns_the_pairs_and_reuses_the_cache(server, dsb_like, tmp_path):
    archive, pairs = dsb_like
    server.files["/mini.zip"] = archive
    info = info_for(server.url + "/mini.zip", sha256=sha(archive))
    got = fetch_dataset(info, split="train", cache=tmp_path, progress=False)
    assert len(got) == 3
    for (image, labels), (ref_image, ref_labels) in zip(got, pairs["train"], strict=True):
        np.testing.assert_array_equal(image, ref_image)
        np.testing.assert_array_equal(labels, ref_labels)
        assert labels.dtype == np.int32
    test = fetch_dataset(info, split="test", cache=tmp_path, progress=False)
    np.testing.assert_array_equal(test[0][1], pairs["test"][0][1])
    assert server.requests == ["/mini.zip"]  # downloaded once
    assert (tmp_path / "mini" / "READY").is_file()
    assert leftovers(tmp_path) == []


def test_missing_checksum_is_pinned_on_first_download_and_enforced_later(
    server, dsb_like, tmp_path, capsys
):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    info = info_for(server.url + "/mini.zip", reference=sha(archive))
    fetch_dataset(info, cache=tmp_path, progress=False)
    out = capsys.readouterr().out
    assert re.search(rf"no checksum .*pinned SHA-256 {sha(archive)} \(matches", out)
    pins = (tmp_path / "mini" / "sha256-pinned.json").read_text()
    assert sha(archive) in pins
    # the server now serves something else: the pinned checksum rejects it
    (tmp_path / "mini" / "READY").unlink()
    (tmp_path / "mini" / "downloads" / "mini.zip").unlink()
    server.files["/mini.zip"] = archive[:-10] + b"0123456789"
    with pytest.raises(ChecksumError, match="expected " + sha(archive)):
        fetch_dataset(info, cache=tmp_path, progress=False)
    assert not (tmp_path / "mini" / "downloads" / "mini.zip").exists()
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_leaves_nothing_that_looks_valid(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    info = info_for(server.url + "/mini.zip", sha256="0" * 64)
    with pytest.raises(ChecksumError, match=f"has SHA-256 {sha(archive)}, expected 0000"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    root = tmp_path / "mini"
    assert not (root / "READY").exists() and not (root / "unpacked").exists()
    assert not (root / "downloads" / "mini.zip").exists()
    assert leftovers(tmp_path) == []


def test_truncated_transfer_is_detected_and_discarded(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    server.truncate.add("/mini.zip")
    info = info_for(server.url + "/mini.zip")  # no checksum: only the length can tell
    with pytest.raises(DatasetUnavailableError, match=r"incomplete|broke off"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    assert not (tmp_path / "mini" / "downloads" / "mini.zip").exists()
    assert not (tmp_path / "mini" / "sha256-pinned.json").exists()  # nothing pinned
    assert leftovers(tmp_path) == []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_raises_one_clear_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/mini.zip"
    with pytest.raises(DatasetUnavailableError, match=f"cannot download {re.escape(url)}"):
        fetch_dataset(info_for(url), cache=tmp_path, progress=False, timeout=5)
    assert leftovers(tmp_path) == []


def test_not_found_raises(server, tmp_path):
    with pytest.raises(DatasetUnavailableError, match="Not Found"):
        fetch_dataset(info_for(server.url + "/nothing.zip"), cache=tmp_path, progress=False)


def test_fallback_prints_one_line_and_returns_synthetic_data(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/mini.zip"
    pairs, source = fetch_or_synthetic(
        info_for(url), n_synthetic=3, shape=(24, 24), cache=tmp_path, timeout=5, rng=1
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "mini is not available" in lines[0] and "3 synthetic" in lines[0]
    assert source == "synthetic" and len(pairs) == 3
    assert pairs[0][0].shape == (24, 24)


def test_fallback_returns_real_data_when_available(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    pairs, source = fetch_or_synthetic(
        info_for(server.url + "/mini.zip", sha256=sha(archive)), cache=tmp_path, progress=False
    )
    assert source == "mini" and len(pairs) == 3


def test_environment_variable_sets_the_cache(server, dsb_like, tmp_path, monkeypatch):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    fetch_dataset(info_for(server.url + "/mini.zip", sha256=sha(archive)), progress=False)
    assert (tmp_path / "elsewhere" / "mini" / "READY").is_file()


def test_bbbc039_layout_numbers_touching_nuclei_apart(server, tmp_path):
    # two touching squares with values 1 and 2, a third apart with value 1, as in BBBC039 masks
    mask = np.zeros((20, 30), np.uint8)
    mask[2:8, 2:8] = 1
    mask[2:8, 8:14] = 2
    mask[12:18, 20:26] = 1
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = mask
    rgba[..., 3] = 255
    image = np.arange(600, dtype=np.uint16).reshape(20, 30)
    archives = {
        "images.zip": zip_bytes(
            {"images/a.tif": tiff_bytes(image), "images/b.tif": tiff_bytes(image)}
        ),
        "masks.zip": zip_bytes(
            {
                "masks/a.png": png_bytes(rgba),
                "masks/b.png": png_bytes(rgba),
                "__MACOSX/masks/._a.png": b"junk",
            }
        ),
        "metadata.zip": zip_bytes(
            {
                "metadata/training.txt": "a.png\n",
                "metadata/validation.txt": "b.png\n",
                "metadata/test.txt": "b.png\n",
            }
        ),
    }
    files = []
    for name, data in archives.items():
        server.files["/" + name] = data
        files.append(RemoteFile(server.url + "/" + name, name, sha256=sha(data)))
    info = DatasetInfo(
        name="bbbc",
        description="",
        files=tuple(files),
        splits=("train", "val", "test"),
        layout="bbbc039",
        license="CC0",
        citation="",
        homepage="",
    )
    [(got_image, labels)] = fetch_dataset(info, split="train", cache=tmp_path, progress=False)
    np.testing.assert_array_equal(got_image, image)
    assert labels.max() == 3 and labels.dtype == np.int32
    assert len(np.unique(labels[2:8, 2:14])) == 2  # the touching pair stays two nuclei
    assert len(fetch_dataset(info, split="val", cache=tmp_path, progress=False)) == 1


def test_archive_paths_outside_the_folder_are_refused(server, tmp_path):
    evil = zip_bytes({"../evil.txt": b"x"})
    server.files["/mini.zip"] = evil
    with pytest.raises(DatasetUnavailableError, match="path outside the archive"):
        fetch_dataset(
            info_for(server.url + "/mini.zip", sha256=sha(evil)), cache=tmp_path, progress=False
        )
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "mini" / "evil.txt").exists()


def test_broken_zip_is_an_unavailable_dataset(server, tmp_path):
    junk = b"not a zip at all"
    server.files["/mini.zip"] = junk
    with pytest.raises(DatasetUnavailableError, match="not a valid zip"):
        fetch_dataset(
            info_for(server.url + "/mini.zip", sha256=sha(junk)), cache=tmp_path, progress=False
        )


def test_download_of_a_local_file_and_overwriting_is_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 1000)
    dest = tmp_path / "out" / "copy.bin"
    assert download(src.as_uri(), dest) == sha(b"abc" * 1000)
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError):
        download(src.as_uri(), dest, sha256="1" * 64)
    assert dest.read_bytes() == b"old"  # a failed download never replaces a file


def test_unknown_names_and_splits():
    with pytest.raises(ValueError, match="`name` must be one of 'dsb2018', 'bbbc039'"):
        fetch_dataset("mnist")
    with pytest.raises(ValueError, match="`split` must be one of 'train', 'test'"):
        fetch_dataset("dsb2018", split="val")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entries_are_complete(name):
    info = REGISTRY[name]
    assert info.name == name and info.license and info.citation and info.description
    assert info.homepage.startswith("https://")
    for f in info.files:
        assert f.url.startswith("https://")
        for digest in (f.sha256, f.reference_sha256):
            assert digest is None or re.fullmatch("[0-9a-f]{64}", digest)
        if f.sha256 is None:  # no publisher checksum: the registry must say so
            assert "no checksum" in info.notes.lower() or "no checksums" in info.notes.lower()
