"""Real-data downloads, tested against a local HTTP server serving archives made by the test."""

import dataclasses
import hashlib
import importlib
import io
import json
import re
import socket
import stat
import struct
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

# the module itself (the package's attribute ``download`` is the function of that name)
download_module = importlib.import_module("bioimage_course.data.download")


class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1, well or in one of the broken ways below.

    ``broken[path]`` is one of:

    - ``"truncate"``: announce the full Content-Length, send half, hang up;
    - ``"close"``: send no Content-Length, send half, hang up (the client cannot tell);
    - ``"chunked"``: chunked transfer encoding, hang up before the last chunk;
    - ``"stall"``: send half and then nothing until the test ends (the client times out).

    After ``max_requests`` requests the server stops itself, so that a client that retried
    without end would fail instead of looping.
    """

    def __init__(self, max_requests=20):
        self.files, self.broken, self.requests = {}, {}, []
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                self.close_connection = True
                owner.requests.append(self.path)
                if len(owner.requests) > max_requests:
                    threading.Thread(target=owner.httpd.shutdown, daemon=True).start()
                    self.send_error(503, "too many requests")
                    return
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                how = owner.broken.get(self.path)
                self.send_response(200)
                self.send_header("Connection", "close")
                if how == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                elif how != "close":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                half = body[: len(body) // 2]
                if how == "chunked":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                elif how in ("truncate", "close", "stall"):
                    self.wfile.write(half)
                else:
                    self.wfile.write(body)
                self.wfile.flush()
                if how == "stall":
                    owner.release.wait()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
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


def serve(server, body, **checksums):
    """Serve ``body`` as /mini.zip; return the DatasetInfo of a data set made of that file."""
    server.files["/mini.zip"] = body
    return info_for(server.url + "/mini.zip", **checksums)


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
    info = serve(server, archive, sha256=sha(archive))
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


def test_a_matching_reference_checksum_is_used_and_nothing_is_pinned(
    server, dsb_like, tmp_path, capsys
):
    archive, _ = dsb_like
    info = serve(server, archive, reference=sha(archive).upper())
    assert len(fetch_dataset(info, cache=tmp_path, progress=False)) == 3
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "mini" / "sha256-pinned.json").exists()


def test_without_any_checksum_the_first_valid_download_is_pinned_and_enforced_later(
    server, dsb_like, tmp_path, capsys
):
    archive, _ = dsb_like
    info = serve(server, archive)
    fetch_dataset(info, cache=tmp_path, progress=False)
    out = capsys.readouterr().out
    assert re.search(rf"no checksum is known for mini.zip; pinned the SHA-256 {sha(archive)}", out)
    pins = tmp_path / "mini" / "sha256-pinned.json"
    assert sha(archive) in pins.read_text()
    # the server now serves something else: the pinned checksum rejects it and says what to do
    (tmp_path / "mini" / "READY").unlink()
    (tmp_path / "mini" / "downloads" / "mini.zip").unlink()
    server.files["/mini.zip"] = archive[:-10] + b"0123456789"
    with pytest.raises(ChecksumError) as err:
        fetch_dataset(info, cache=tmp_path, progress=False)
    message = str(err.value)
    assert (
        f"expected {sha(archive)}; the file was discarded; the expected value was pinned by an "
        f"earlier download in {pins}; if the publisher has changed the file, delete that file"
    ) in message
    assert not (tmp_path / "mini" / "downloads" / "mini.zip").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("recorded", ["sha256", "reference_sha256"])
def test_checksum_mismatch_leaves_nothing_that_looks_valid(server, dsb_like, tmp_path, recorded):
    # before, with a reference_sha256 only: the download was pinned, the reference just printed
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    remote = RemoteFile(server.url + "/mini.zip", "mini.zip", **{recorded: "0" * 64})
    info = dataclasses.replace(info_for(remote.url), files=(remote,))
    with pytest.raises(ChecksumError, match=f"has SHA-256 {sha(archive)}, expected 0{{64}}; the"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    root = tmp_path / "mini"
    assert not (root / "READY").exists() and not (root / "unpacked").exists()
    assert not (root / "downloads" / "mini.zip").exists()
    assert not (root / "sha256-pinned.json").exists()
    assert leftovers(tmp_path) == []


def test_truncated_transfer_is_detected_and_discarded(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    server.broken["/mini.zip"] = "truncate"
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


def serve_bbbc039(server, archives, split_sizes=None):
    """Serve the archives (name -> bytes); return the DatasetInfo of a BBBC039-like data set."""
    files = []
    for name, data in archives.items():
        server.files["/" + name] = data
        files.append(RemoteFile(server.url + "/" + name, name, sha256=sha(data)))
    return DatasetInfo(
        name="bbbc",
        description="",
        files=tuple(files),
        splits=("train", "val", "test"),
        split_sizes=split_sizes,
        layout="bbbc039",
        license="CC0",
        citation="",
        homepage="",
    )


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
    info = serve_bbbc039(server, archives)
    [(got_image, labels)] = fetch_dataset(info, split="train", cache=tmp_path, progress=False)
    np.testing.assert_array_equal(got_image, image)
    assert labels.max() == 3 and labels.dtype == np.int32
    assert len(np.unique(labels[2:8, 2:14])) == 2  # the touching pair stays two nuclei
    assert len(fetch_dataset(info, split="val", cache=tmp_path, progress=False)) == 1


def test_bbbc039_archives_are_checked_before_use(server, tmp_path):
    image, mask = tiff_bytes(np.zeros((4, 5), np.uint16)), png_bytes(np.zeros((4, 5), np.uint8))
    archives = {
        "images.zip": zip_bytes({"images/a.tif": image, "images/b.tif": image}),
        "masks.zip": zip_bytes({"masks/a.png": mask, "masks/b.png": mask}),
        "metadata.zip": zip_bytes({"metadata/training.txt": "a.png\n", "metadata/test.txt": "b"}),
    }
    info = serve_bbbc039(server, archives, split_sizes=(1, 0, 1))
    with pytest.raises(
        DatasetUnavailableError,
        match="^metadata.zip is not the bbbc archive expected: the list of the 'val' images, "
        "validation.txt, is missing$",
    ):
        fetch_dataset(info, cache=tmp_path, progress=False)
    archives["metadata.zip"] = zip_bytes(
        {"training.txt": "a.png\n", "validation.txt": "a.png\n\nb.png\n", "test.txt": "b.png"}
    )
    info = serve_bbbc039(server, archives, split_sizes=(1, 0, 1))
    with pytest.raises(DatasetUnavailableError, match="validation.txt lists 2 images, expected 0$"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    info = serve_bbbc039(server, archives, split_sizes=(1, 1, 2))
    with pytest.raises(
        DatasetUnavailableError,
        match="^images.zip is not the bbbc archive expected: it holds 2 .tif files, expected 4; "
        "so did the cached copy, now in .*/quarantine/images.zip$",
    ):
        fetch_dataset(info, cache=tmp_path, progress=False)
    assert not (tmp_path / "bbbc" / "unpacked").exists()
    lists = {"training.txt": "a.png\n", "validation.txt": "b.png\n", "test.txt": ""}
    archives["metadata.zip"] = zip_bytes(lists)
    info = serve_bbbc039(server, archives, split_sizes=(1, 1, 0))  # as the archives hold
    assert len(fetch_dataset(info, split="val", cache=tmp_path, progress=False)) == 1


def test_archive_paths_outside_the_folder_are_refused(server, tmp_path):
    evil = zip_bytes({"../evil.txt": b"x"})
    server.files["/mini.zip"] = evil
    with pytest.raises(
        DatasetUnavailableError, match="^mini.zip contains a path outside the archive: "
    ):
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
        assert f.expected_sha256 is not None  # every registered file is checked, none pinned
        if f.sha256 is None:  # no publisher checksum: the registry must say so
            assert "no checksum" in info.notes.lower() or "no checksums" in info.notes.lower()
    assert info.split_sizes is not None and len(info.split_sizes) == len(info.splits)


# ---------------------------------------------------------------------------------------------
# Responses that are not the archive: never pinned, never unpacked, a clear error
# ---------------------------------------------------------------------------------------------
WEB_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head></html>\n"


def nothing_pinned_or_kept(root):
    assert not (root / "sha256-pinned.json").exists()
    assert not (root / "downloads" / "mini.zip").exists()
    assert not (root / "unpacked").exists() and not (root / "READY").exists()


def test_a_web_page_instead_of_the_archive_is_refused_and_not_pinned(server, tmp_path):
    # before: the page was pinned, and from then on every fetch failed
    info = serve(server, WEB_PAGE)
    with pytest.raises(
        DatasetUnavailableError,
        match=r"^mini.zip is a web page, not a zip archive \(a network's login page",
    ):
        fetch_dataset(info, cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")
    assert leftovers(tmp_path) == []


def test_a_web_page_fails_a_recorded_checksum(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    info = serve(server, WEB_PAGE, reference=sha(archive))
    with pytest.raises(ChecksumError, match=rf"has SHA-256 {sha(WEB_PAGE)}, expected .* login"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")


def test_closed_mid_transfer_without_a_length_is_refused_and_not_pinned(server, dsb_like, tmp_path):
    # before: with no Content-Length the half archive was complete as far as anyone checked
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    server.broken["/mini.zip"] = "close"
    info = info_for(server.url + "/mini.zip")
    with pytest.raises(DatasetUnavailableError, match=r"mini.zip is not a valid zip archive"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")
    assert leftovers(tmp_path) == []
    del server.broken["/mini.zip"]  # the network recovers: the next fetch works
    assert len(fetch_dataset(info, cache=tmp_path, progress=False)) == 3


@pytest.mark.parametrize("how", ["chunked", "stall"])
def test_transfers_that_break_off_or_stall_are_discarded(server, dsb_like, tmp_path, how):
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    server.broken["/mini.zip"] = how
    info = info_for(server.url + "/mini.zip")
    with pytest.raises(DatasetUnavailableError, match=r"download of .* broke off after \d+ bytes"):
        fetch_dataset(info, cache=tmp_path, progress=False, timeout=0.5)
    nothing_pinned_or_kept(tmp_path / "mini")
    assert leftovers(tmp_path) == []


def damaged_archive(dsb_like, how):
    """The miniature archive, deflated, with one member's data damaged after compression."""
    _, pairs = dsb_like
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if how == "deflate" else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for split, items in pairs.items():
            for i, (image, labels) in enumerate(items):
                zf.writestr(f"dsb2018/{split}/images/{i}.tif", tiff_bytes(image))
                zf.writestr(f"dsb2018/{split}/masks/{i}.tif", tiff_bytes(labels.astype(np.uint16)))
        victim = zf.getinfo("dsb2018/train/images/1.tif")
    data = bytearray(buf.getvalue())
    name_length, extra_length = struct.unpack_from("<HH", data, victim.header_offset + 26)
    start = victim.header_offset + 30 + name_length + extra_length  # the member's data
    if how == "deflate":
        data[start] = 0xFF  # a deflate block of the reserved type 3: the stream cannot decode
    else:
        data[start + 100] ^= 0xFF  # one changed byte: the CRC-32 no longer matches
    return bytes(data)


@pytest.mark.parametrize("how", ["deflate", "crc"])
def test_a_damaged_archive_with_a_valid_checksum_is_refused_cleanly(
    server, dsb_like, tmp_path, capsys, how
):
    # before: a raw zlib.error (or a half-unpacked folder); fetch_or_synthetic did not fall back
    archive = damaged_archive(dsb_like, how)
    info = serve(server, archive, sha256=sha(archive))
    with pytest.raises(
        DatasetUnavailableError,
        match=r"^mini.zip is not a valid zip archive, it is damaged: "
        r"'dsb2018/train/images/1.tif' cannot be read \(",
    ):
        fetch_dataset(info, cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")
    assert leftovers(tmp_path) == []
    pairs, source = fetch_or_synthetic(info, n_synthetic=2, shape=(16, 16), cache=tmp_path)
    lines = capsys.readouterr().out.strip().splitlines()
    assert source == "synthetic" and len(pairs) == 2
    assert len(lines) == 1 and lines[0].startswith(
        "mini is not available (mini.zip is not a valid zip archive, it is"
    )
    assert lines[0].endswith("; using 2 synthetic images instead.")


def test_an_archive_that_fails_while_unpacking_leaves_nothing_half_unpacked(
    server, dsb_like, tmp_path, monkeypatch
):
    # skip the content check, so that the damaged member is met half way through unpacking
    monkeypatch.setattr(download_module, "check_archive", lambda *args: None)
    archive = damaged_archive(dsb_like, "deflate")
    info = serve(server, archive, sha256=sha(archive))
    with pytest.raises(DatasetUnavailableError, match=r"mini.zip could not be unpacked \(Error"):
        fetch_dataset(info, cache=tmp_path, progress=False)
    root = tmp_path / "mini"
    assert not (root / "unpacked").exists() and not (root / "READY").exists()
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# A cache that fails its checks heals: quarantined and downloaded again, once
# ---------------------------------------------------------------------------------------------
def test_a_web_page_pinned_by_an_older_version_is_quarantined_and_fetched_again(
    server, dsb_like, tmp_path, capsys
):
    # before: "not a valid zip archive" for ever, and deleting the download gave a ChecksumError
    archive, _ = dsb_like
    root = tmp_path / "mini"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "mini.zip").write_bytes(WEB_PAGE)
    (root / "sha256-pinned.json").write_text(json.dumps({"mini.zip": sha(WEB_PAGE)}))
    info = serve(server, archive)
    assert len(fetch_dataset(info, cache=tmp_path, progress=False)) == 3
    out = capsys.readouterr().out
    quarantined = root / "quarantine" / "mini.zip"
    assert (
        f"mini: the cached mini.zip failed its checks (mini.zip is a web page, not a zip "
        f"archive (a network's login page or an error page?)); moved it to {quarantined} and "
        "downloaded it again"
    ) in out
    assert quarantined.read_bytes() == WEB_PAGE
    assert json.loads((root / "sha256-pinned.json").read_text()) == {"mini.zip": sha(archive)}
    assert server.requests == ["/mini.zip"]


def test_a_cached_copy_damaged_on_disk_is_quarantined_and_fetched_again(
    server, dsb_like, tmp_path, capsys
):
    archive, _ = dsb_like
    info = serve(server, archive, sha256=sha(archive))
    fetch_dataset(info, cache=tmp_path, progress=False)
    root = tmp_path / "mini"
    (root / "READY").unlink()
    cached = root / "downloads" / "mini.zip"
    cached.write_bytes(archive[:100])
    assert len(fetch_dataset(info, cache=tmp_path, progress=False)) == 3
    out = capsys.readouterr().out
    assert (
        f"the cached mini.zip failed its checks (SHA-256 {sha(archive[:100])}, expected "
        f"{sha(archive)}); moved it to {root / 'quarantine' / 'mini.zip'} and downloaded it again"
    ) in out
    assert cached.read_bytes() == archive
    assert (root / "quarantine" / "mini.zip").read_bytes() == archive[:100]


def test_healing_is_tried_once_and_the_error_says_where_the_bad_copy_went(server, tmp_path):
    root = tmp_path / "mini"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "mini.zip").write_bytes(WEB_PAGE)
    (root / "sha256-pinned.json").write_text(json.dumps({"mini.zip": sha(WEB_PAGE)}))
    server.files["/mini.zip"] = WEB_PAGE  # still the login page
    with pytest.raises(DatasetUnavailableError) as err:
        fetch_dataset(info_for(server.url + "/mini.zip"), cache=tmp_path, progress=False)
    assert str(err.value).startswith("mini.zip is a web page, not a zip archive")
    assert str(err.value).endswith(f"; so did the cached copy, now in {root}/quarantine/mini.zip")
    assert server.requests == ["/mini.zip"]  # one more try, not a loop
    assert json.loads((root / "sha256-pinned.json").read_text()) == {}  # the bad pin is gone
    assert not (root / "downloads" / "mini.zip").exists() and not (root / "unpacked").exists()


# ---------------------------------------------------------------------------------------------
# The layout: image/mask pairs and their numbers, checked before anything is pinned
# ---------------------------------------------------------------------------------------------
def test_an_archive_with_another_layout_or_count_is_refused(server, dsb_like, tmp_path):
    archive, _ = dsb_like
    members = {n: zipfile.ZipFile(io.BytesIO(archive)).read(n) for n in zip_names(archive)}
    lonely = zip_bytes({k: v for k, v in members.items() if k != "dsb2018/train/masks/2.tif"})
    server.files["/lonely.zip"] = lonely
    with pytest.raises(
        DatasetUnavailableError,
        match=r"mini.zip is not the mini archive expected: 1 files in 'dsb2018/train' have no "
        r"partner image or mask \(such as '2'\)",
    ):
        fetch_dataset(info_for(server.url + "/lonely.zip"), cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")
    server.files["/mini.zip"] = archive
    counted = dataclasses.replace(info_for(server.url + "/mini.zip"), split_sizes=(4, 1))
    with pytest.raises(
        DatasetUnavailableError,
        match=r"expected: 'dsb2018/train' holds 3 image/mask pairs, expected 4$",
    ):
        fetch_dataset(counted, cache=tmp_path, progress=False)
    nothing_pinned_or_kept(tmp_path / "mini")
    renamed = zip_bytes({k.replace("dsb2018/", "other/"): v for k, v in members.items()})
    server.files["/renamed.zip"] = renamed
    with pytest.raises(DatasetUnavailableError, match="no images in a 'dsb2018/train/images'"):
        fetch_dataset(info_for(server.url + "/renamed.zip"), cache=tmp_path, progress=False)


def zip_names(archive):
    return zipfile.ZipFile(io.BytesIO(archive)).namelist()


# ---------------------------------------------------------------------------------------------
# Masks: float masks are not silently cast
# ---------------------------------------------------------------------------------------------
def archive_with_mask(mask):
    image = np.zeros(mask.shape, np.uint16)
    members = {}
    for split in ("train", "test"):
        members[f"dsb2018/{split}/images/a.tif"] = tiff_bytes(image)
        members[f"dsb2018/{split}/masks/a.tif"] = tiff_bytes(mask)
    return zip_bytes(members)


def test_float_masks_with_fractions_are_refused_not_truncated(server, tmp_path):
    # before: cast to int32, so 0.6 became 0 and the object vanished
    mask = np.zeros((8, 8), np.float32)
    mask[2:5, 2:5] = 0.6
    archive = archive_with_mask(mask)
    info = serve(server, archive, sha256=sha(archive))
    with pytest.raises(
        DatasetUnavailableError,
        match=r"mask '.*/dsb2018/train/masks/a.tif' must hold whole-number labels, got dtype "
        r"float32 with the value 0.6",
    ):
        fetch_dataset(info, cache=tmp_path, progress=False)


def test_float_masks_of_whole_numbers_are_read_exactly(server, tmp_path):
    mask = np.zeros((8, 8), np.float32)
    mask[1:3, 1:3], mask[5:7, 5:7] = 1.0, 7.0
    archive = archive_with_mask(mask)
    info = serve(server, archive, sha256=sha(archive))
    [(_, labels)] = fetch_dataset(info, cache=tmp_path, progress=False)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, mask.astype(np.int32))


def test_negative_mask_values_are_refused(server, tmp_path):
    mask = np.zeros((8, 8), np.int16)
    mask[0, 0] = -1
    archive = archive_with_mask(mask)
    info = serve(server, archive, sha256=sha(archive))
    with pytest.raises(DatasetUnavailableError, match=r"must hold labels from 0 to 2147483647, "):
        fetch_dataset(info, cache=tmp_path, progress=False)


# ---------------------------------------------------------------------------------------------
# Permissions: the cache honours the umask, so a class can share it
# ---------------------------------------------------------------------------------------------
def test_cached_files_and_folders_honour_the_umask(server, dsb_like, tmp_path, umask):
    # before: the download and the pins file were 0600 and the unpacked folder 0700
    archive, _ = dsb_like
    server.files["/mini.zip"] = archive
    fetch_dataset(info_for(server.url + "/mini.zip"), cache=tmp_path, progress=False)
    root = tmp_path / "mini"
    files = [root / "downloads" / "mini.zip", root / "sha256-pinned.json", root / "READY"]
    files.append(root / "unpacked" / "mini" / "dsb2018" / "train" / "images" / "0.tif")
    folders = [root / "unpacked", root / "unpacked" / "mini", root / "downloads"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    for path in folders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask, path
