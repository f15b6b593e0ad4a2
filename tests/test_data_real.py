"""The real sample in data/real: its files, its manifest, its split, and the offline loader.

Where the full data set sits beside the repository (``../shared/real``, as on CI), the split
and the sample are regenerated from it and must equal the committed files exactly; elsewhere
those tests are skipped with the reason.
"""

import hashlib
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import bioimage_course
from bioimage_course.data import real
from bioimage_course.io import read_tiff

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "data" / "real"
SOURCE = ROOT.parent / "shared" / "real" / "dsb2018_stage1_train_fluo.npz"
needs_source = pytest.mark.skipif(
    not SOURCE.is_file(), reason=f"the full real data set is not at {SOURCE}"
)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_packaged_manifest_is_the_repository_manifest():
    packaged = Path(real.__file__).with_name("real_sample_manifest.json")
    assert json.loads(packaged.read_text()) == json.loads((FOLDER / "manifest.json").read_text())


def test_files_match_their_recorded_checksums_and_sizes():
    manifest = json.loads((FOLDER / "manifest.json").read_text())
    assert manifest["license"].startswith("CC0")
    assert [f["split"] for f in manifest["files"]].count("train") == real.SAMPLE_SIZES["train"]
    assert [f["split"] for f in manifest["files"]].count("test") == real.SAMPLE_SIZES["test"]
    for entry in manifest["files"]:
        for kind in ("images", "masks"):
            path = FOLDER / entry["split"] / kind / f"{entry['name']}.tif"
            assert sha256(path) == entry[f"{kind}_sha256"], path
        image, meta = read_tiff(FOLDER / entry["split"] / "images" / f"{entry['name']}.tif")
        labels, _ = read_tiff(FOLDER / entry["split"] / "masks" / f"{entry['name']}.tif")
        assert image.dtype == np.uint8 and labels.dtype == np.uint16 and meta.axes == "YX"
        assert list(image.shape) == entry["shape"] == list(labels.shape)
        assert len(np.unique(labels)) - 1 == entry["n_nuclei"]


def test_sample_is_small_and_spans_nucleus_sizes():
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size < 4e6, size
    for split in real.SAMPLE_SIZES:
        diameters = [real.median_diameter(labels) for _, labels in real.load_real_sample(split)]
        assert diameters == sorted(diameters)
        assert diameters[0] < 12 and diameters[-1] > 40, diameters


def test_sample_images_come_from_their_own_split():
    split = json.loads((FOLDER / "split.json").read_text())
    manifest = json.loads((FOLDER / "manifest.json").read_text())
    assert not set(split["train"]) & set(split["test"])
    assert not set(split["val"]) & (set(split["train"]) | set(split["test"]))
    for entry in manifest["files"]:
        assert entry["dsb_id"] in split[entry["split"]]


def test_make_split_is_reproducible_and_disjoint():
    ids = [f"{i:04x}" for i in range(200)]
    a, b = real.make_split(ids), real.make_split(list(reversed(ids)))
    assert a == b
    assert sorted(a["train"] + a["val"] + a["test"]) == ids
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (140, 30, 30)
    assert real.make_split(ids, seed=1) != a


@needs_source
def test_recorded_split_equals_make_split_of_the_data_set():
    ids = [str(i) for i in np.load(SOURCE)["ids"]]
    recorded = json.loads((FOLDER / "split.json").read_text())
    assert {k: recorded[k] for k in ("train", "val", "test")} == real.make_split(ids)


@needs_source
def test_script_regenerates_the_committed_files(tmp_path):
    manifest = real.write_real_sample(SOURCE, tmp_path)
    committed = json.loads((FOLDER / "manifest.json").read_text())
    strip = [{k: v for k, v in f.items() if not k.endswith("sha256")} for f in manifest["files"]]
    assert strip == [
        {k: v for k, v in f.items() if not k.endswith("sha256")} for f in committed["files"]
    ]
    for entry in manifest["files"]:
        for kind in ("images", "masks"):
            rel = Path(entry["split"]) / kind / f"{entry['name']}.tif"
            np.testing.assert_array_equal(read_tiff(tmp_path / rel)[0], read_tiff(FOLDER / rel)[0])
    assert (tmp_path / "split.json").read_text() == (FOLDER / "split.json").read_text()


def test_load_real_sample_reads_the_checkout():
    train = real.load_real_sample("train")
    same = real.load_real_sample("train", root=FOLDER)
    assert len(train) == 40
    for (image, labels), (image2, labels2) in zip(train, same, strict=True):
        np.testing.assert_array_equal(image, image2)
        np.testing.assert_array_equal(labels, labels2)
        assert labels.dtype == np.int32 and image.shape == labels.shape


@pytest.fixture
def repository_server():
    """Serve the repository like GitHub does: ``/raw/main/<path>`` on loopback."""
    served = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            super().do_GET()

        def translate_path(self, path):
            return str(ROOT / path.removeprefix("/repo/raw/main/"))

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(ROOT)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/repo", served
    httpd.shutdown()
    httpd.server_close()


def test_without_a_checkout_the_sample_is_downloaded_and_verified(
    repository_server, tmp_path, monkeypatch
):
    url, served = repository_server
    monkeypatch.setattr(bioimage_course, "REPO_URL", url)
    monkeypatch.setattr(real, "_checkout_folder", lambda: None)
    n_files = 2 * sum(real.SAMPLE_SIZES.values())  # images and masks, both splits
    test = real.load_real_sample("test", cache=tmp_path)
    assert len(set(served)) == n_files and all(
        p.startswith("/repo/raw/main/data/real/") for p in served
    )
    fetched = len(served)
    for (image, labels), (image2, labels2) in zip(test, real.load_real_sample("test"), strict=True):
        np.testing.assert_array_equal(image, image2)
        np.testing.assert_array_equal(labels, labels2)
    real.load_real_sample("train", cache=tmp_path)  # cached and verified: nothing fetched
    assert len(served) == fetched
    # a corrupted cached file is fetched again, never used
    broken = tmp_path / "real_sample" / "test" / "images" / "nuclei_00.tif"
    broken.write_bytes(b"not a tiff")
    real.load_real_sample("test", cache=tmp_path)
    assert served[fetched:] == ["/repo/raw/main/data/real/test/images/nuclei_00.tif"]


def test_a_wrong_download_is_refused(repository_server, tmp_path, monkeypatch):
    from bioimage_course.data import ChecksumError

    url, _ = repository_server
    monkeypatch.setattr(bioimage_course, "REPO_URL", url)
    monkeypatch.setattr(real, "_checkout_folder", lambda: None)
    manifest = real._manifest()
    manifest["files"][0]["images_sha256"] = "0" * 64
    monkeypatch.setattr(real, "_manifest", lambda: manifest)
    with pytest.raises(ChecksumError):
        real.load_real_sample("train", cache=tmp_path)
    assert not (tmp_path / "real_sample" / "train" / "images" / "nuclei_00.tif").exists()


def test_bad_split_is_named():
    with pytest.raises(ValueError, match="`split` must be one of"):
        real.load_real_sample("val")
