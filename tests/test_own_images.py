"""The own-images workflow on a temporary folder: with and without masks, files that are not
TIFFs, an existing output; labels written with the pixel size, nothing overwritten."""

import numpy as np
import pytest

from bioimage_course.data import make_nuclei
from bioimage_course.io import read_tiff, write_tiff
from bioimage_course.metrics import matching
from bioimage_course.models import UNet
from bioimage_course.own_images import find_images, fine_tune_on_folder, segment_folder


@pytest.fixture
def folder(tmp_path):
    """data/ layout: three images (pixel size 0.5 um), masks for two, and a note."""
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    for i in range(3):
        image, labels = make_nuclei((96, 96), rng=i)
        write_tiff(tmp_path / "images" / f"well_{i}.tif", image, axes="YX", pixel_size_um=0.5)
        if i < 2:
            write_tiff(tmp_path / "masks" / f"well_{i}.tif", labels.astype(np.uint16), axes="YX")
    (tmp_path / "images" / "notes.txt").write_text("plate 3, DAPI\n")
    return tmp_path


def test_segments_writes_and_scores_where_masks_exist(folder):
    result = segment_folder(folder, progress=False)
    assert [p.name for p in result.written] == ["well_0.tif", "well_1.tif", "well_2.tif"]
    assert all(p.parent == folder / "labels" for p in result.written)
    assert [p.name for p in result.skipped] == ["notes.txt"]
    assert [row.get("f1") is not None for row in result.rows] == [True, True, False]
    for path, row in zip(result.written, result.rows, strict=True):
        labels, meta = read_tiff(path)
        assert labels.dtype == np.uint16 and labels.shape == (96, 96)
        assert meta.pixel_size_um == 0.5 and int(labels.max()) == row["nuclei"]
    # the scores are notebook 07's matching of the written labels against the masks
    truth, _ = read_tiff(folder / "masks" / "well_0.tif")
    written, _ = read_tiff(result.written[0])
    assert result.rows[0]["f1"] == pytest.approx(matching(truth, written, 0.5).f1)
    assert result.scored and result.pooled.n_true == sum(
        int(read_tiff(folder / "masks" / f"well_{i}.tif")[0].max()) for i in range(2)
    )
    assert "well_2" in result.table() and "-" in result.table()
    result.plot()


def test_existing_output_is_never_overwritten(folder):
    (folder / "labels").mkdir()
    existing = folder / "labels" / "well_1.tif"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="well_1.tif.*overwrite=True"):
        segment_folder(folder, progress=False)
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in (folder / "labels").iterdir()) == ["well_1.tif"]
    result = segment_folder(folder, overwrite=True, progress=False)
    assert read_tiff(existing)[0].shape == (96, 96) and len(result.written) == 3


def test_output_elsewhere_and_a_plain_folder_of_tiffs(tmp_path):
    image, _ = make_nuclei((64, 64), rng=5)
    write_tiff(tmp_path / "a.ome.tif", image, axes="YX")
    result = segment_folder(tmp_path, output=tmp_path / "out", diameter_px=12, progress=False)
    assert [p.relative_to(tmp_path).as_posix() for p in result.written] == ["out/a.ome.tif"]
    assert not result.scored and result.rows[0]["diameter_px"] == 12
    with pytest.raises(ValueError, match="`output` must not be the images' folder"):
        segment_folder(tmp_path, output=tmp_path, progress=False)


def test_a_file_named_tif_that_is_not_a_tiff_stops_before_writing(folder):
    (folder / "images" / "broken.tif").write_text("not an image")
    with pytest.raises(ValueError, match="broken.tif.*not a TIFF"):
        segment_folder(folder, progress=False)
    assert not (folder / "labels").exists()


def test_clear_errors(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="`folder`.*is not a folder"):
        segment_folder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no images")
    with pytest.raises(FileNotFoundError, match="holds no TIFF images"):
        find_images(empty)
    write_tiff(folder / "images" / "stack.tif", np.zeros((2, 8, 8), np.uint16), axes="ZYX")
    with pytest.raises(ValueError, match="stack.tif: images must be 2D"):
        segment_folder(folder, progress=False)
    (folder / "images" / "stack.tif").unlink()
    write_tiff(folder / "masks" / "well_2.tif", np.zeros((8, 8), np.uint16), axes="YX")
    with pytest.raises(ValueError, match="well_2.tif: the mask must have its image's shape"):
        segment_folder(folder, output=tmp_path / "o", progress=False)
    with pytest.raises(ValueError, match="`diameter_px`"):
        segment_folder(folder, diameter_px=-1)


def test_fine_tune_on_the_labelled_images_only(folder, tmp_path):
    start = UNet(out_channels=3, depth=2, base_channels=4)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    run = fine_tune_on_folder(folder, model=start, steps=2, patch_size=32, progress=False)
    assert all(np.array_equal(before[k], v) for k, v in start.state_dict().items())
    assert run.model.config == start.config and len(run.history.train_loss) == 1
    bare = tmp_path / "bare"
    bare.mkdir()
    write_tiff(bare / "x.tif", np.zeros((32, 32), np.uint16), axes="YX")
    with pytest.raises(ValueError, match="no image with a mask"):
        fine_tune_on_folder(bare, steps=1)
