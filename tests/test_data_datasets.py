"""Torch datasets (memory, folders, synthetic) and leak-free splitting."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from bioimage_course.augment import (
    BrightnessContrast,
    Compose,
    RandomFlip,
    RandomRot90,
    RandomWarp,
)
from bioimage_course.data import (
    FolderDataset,
    PairDataset,
    SyntheticNucleiDataset,
    check_disjoint,
    image_hash,
    load_folder,
    make_nuclei,
    split_indices,
    split_pairs,
)
from bioimage_course.io import write_tiff
from bioimage_course.losses import unet_weight_map
from bioimage_course.patches import center_crop, random_patch


@pytest.fixture(scope="module")
def pairs():
    return [make_nuclei((64, 80), preset="easy", rng=i) for i in range(4)]


def write_pair(root, name, image, labels, *, mask_name=None):
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_tiff(root / "images" / f"{name}.tif", image, axes="YX", pixel_size_um=0.5)
    write_tiff(root / "masks" / f"{mask_name or name}.tif", labels.astype(np.uint16), axes="YX")


# ------------------------------------------------------------------------------------------
# The shared recipe
# ------------------------------------------------------------------------------------------


def test_items_are_float32_channels_first(pairs):
    image, labels = pairs[0]
    ds = PairDataset([image], [labels])
    x, y = ds[0]
    assert x.dtype == y.dtype == torch.float32
    assert tuple(x.shape) == tuple(y.shape) == (1, 64, 80)
    np.testing.assert_array_equal(x[0].numpy(), image.astype(np.float32))  # raw values kept
    np.testing.assert_array_equal(y[0].numpy(), (labels > 0).astype(np.float32))


def test_labels_target_and_callable_target(pairs):
    image, labels = pairs[1]
    x, y = PairDataset([image], [labels], target="labels")[0]
    np.testing.assert_array_equal(y[0].numpy(), labels)

    def two_classes(lab):
        return np.stack([lab == 0, lab > 0])

    _, y2 = PairDataset([image], [labels], target=two_classes)[0]
    assert tuple(y2.shape) == (2, 64, 80)
    np.testing.assert_array_equal(y2.sum(0).numpy(), 1.0)


def test_multichannel_images_keep_their_channels(pairs):
    image, labels = pairs[0]
    x, y = PairDataset([np.stack([image, image])], [labels], patch_size=32, seed=0)[0]
    assert tuple(x.shape) == (2, 32, 32) and tuple(y.shape) == (1, 32, 32)
    assert torch.equal(x[0], x[1])


def test_patch_is_a_crop_of_the_image_and_labels_together(pairs):
    image, labels = pairs[2]
    ds = PairDataset([image], [labels], patch_size=(24, 40), target="labels", seed=3)
    x, y = ds[0]
    x, y = x[0].numpy(), y[0].numpy()
    # find the crop position from the image and check the labels come from the same place
    hits = [
        (r, c)
        for r in range(64 - 24 + 1)
        for c in range(80 - 40 + 1)
        if np.array_equal(image[r : r + 24, c : c + 40], x)
    ]
    assert len(hits) == 1
    r, c = hits[0]
    np.testing.assert_array_equal(labels[r : r + 24, c : c + 40], y)


def test_foreground_prob_one_always_shows_a_nucleus():
    image, labels = make_nuclei((128, 128), rng=0, n_nuclei=2, touching=0.0, diameter_um=(6, 7))
    ds = PairDataset([image], [labels], patch_size=16, foreground_prob=1.0, patches_per_image=20)
    assert all(ds[i][1].sum() > 0 for i in range(len(ds)))


def test_seeded_examples_are_reproducible_and_change_with_the_epoch(pairs):
    ds = PairDataset(*zip(*pairs, strict=True), patch_size=16, seed=5)
    a = [ds[i][0] for i in range(4)]
    b = [ds[i][0] for i in range(4)]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    ds.set_epoch(1)
    c = [ds[i][0] for i in range(4)]
    assert not all(torch.equal(p, q) for p, q in zip(a, c, strict=True))


def test_unseeded_examples_vary(pairs):
    ds = PairDataset([pairs[0][0]], [pairs[0][1]], patch_size=8)
    crops = {image_hash(ds[0][0].numpy()) for _ in range(10)}
    assert len(crops) > 1


def test_workers_give_the_same_examples_as_the_main_process(pairs):
    ds = PairDataset(*zip(*pairs, strict=True), patch_size=16, seed=1, patches_per_image=3)
    main = torch.cat([x for x, _ in DataLoader(ds, batch_size=4)])
    workers = torch.cat([x for x, _ in DataLoader(ds, batch_size=4, num_workers=2)])
    assert torch.equal(main, workers)


def test_transform_gets_the_patch_and_the_rng_and_normalize_the_whole_image(pairs):
    image, labels = pairs[0]
    seen = {}

    def normalize(im):
        seen["normalize"] = im.shape
        return (im - im.mean()) / im.std()

    def flip(im, lab, *, rng):
        seen["transform"] = (im.shape, lab.shape, isinstance(rng, np.random.Generator))
        return im[:, ::-1], lab[:, ::-1]

    ds = PairDataset([image], [labels], patch_size=16, normalize=normalize, transform=flip, seed=0)
    x, _ = ds[0]
    assert seen == {"normalize": (64, 80), "transform": ((16, 16), (16, 16), True)}
    assert abs(float(x.mean())) < 5  # normalised values, not camera counts


warps = st.builds(
    lambda rotation, zoom_lo, zoom_hi, shear, shift, elastic, order: RandomWarp(
        rotation_deg=rotation,
        zoom=(min(zoom_lo, zoom_hi), max(zoom_lo, zoom_hi)),
        shear_deg=shear,
        translation_px=shift,
        elastic_magnitude_px=elastic,
        elastic_smoothness_px=12,
        order=order,
    ),
    st.floats(0, 180),
    st.floats(0.5, 2.0),
    st.floats(0.5, 2.0),
    st.floats(0, 30),
    st.floats(0, 10),
    st.floats(0, 3),
    st.sampled_from([0, 1, 3]),
)


@settings(max_examples=40, deadline=None)
@given(
    warp=warps,
    image_size=st.integers(24, 120),
    patch=st.one_of(st.none(), st.integers(8, 24)),
    channels=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_augmented_targets_of_a_fully_labelled_image_are_all_foreground(
    warp, image_size, patch, channels, seed
):
    """Rule 1 of notebook 04 inside the dataset: a warp of a patch never reads background
    labels from outside the image, whatever the image size (large: a margin of real content;
    too small for the margin: image and labels mirrored alike) and whether or not patches
    are cut."""
    image = np.random.default_rng(seed).random((image_size, image_size)).astype(np.float32)
    if channels:
        image = np.stack([image, 1 - image])
    labels = np.full((image_size, image_size), 7, dtype=np.int32)
    transform = Compose([RandomFlip(), RandomRot90(), warp, BrightnessContrast(contrast=0.3)])
    ds = PairDataset([image], [labels], patch_size=patch, transform=transform, seed=seed)
    for epoch in range(3):
        ds.set_epoch(epoch)
        x, y = ds[0]
        size = image_size if patch is None else patch
        assert tuple(x.shape) == (1 + channels, size, size)
        assert bool((y == 1).all()), f"{float((y == 0).float().mean()):.1%} background"


def test_a_zoomed_out_patch_shows_real_neighbours_with_their_labels():
    """Zooming out a patch cut without a margin would show mirrored copies labelled 0."""
    image, labels = make_nuclei((192, 192), preset="crowded", rng=3)
    zoom_out = RandomWarp(zoom=(0.7, 0.7))
    ds = PairDataset([image], [labels], patch_size=64, transform=zoom_out, target="labels")
    x, y = ds.prepare(image, labels, rng=0)
    # the same patch cut by hand: a margin, the warp, the central crop
    margin = zoom_out.margin_px((64, 64))
    rng = np.random.default_rng(0)
    rows, cols = random_patch((192, 192), 64 + 2 * margin, rng=rng)
    expected = zoom_out(image[rows, cols], labels[rows, cols], rng=rng)
    np.testing.assert_array_equal(y[0].numpy(), center_crop(expected[1], 64))
    np.testing.assert_allclose(x[0].numpy(), center_crop(expected[0], 64), rtol=1e-6)


def test_weight_maps_come_as_a_third_tensor(pairs):
    image, labels = pairs[0]
    ds = PairDataset([image], [labels], patch_size=32, weight=unet_weight_map, seed=0)
    x, y, w = ds[0]
    assert x.shape == y.shape == w.shape == (1, 32, 32)
    window = random_patch(labels.shape, 32, rng=np.random.default_rng([0, 0, 0]))
    np.testing.assert_allclose(w[0].numpy(), unet_weight_map(labels[window]), rtol=1e-6)


def test_index_errors_and_negative_indices(pairs):
    ds = PairDataset(*zip(*pairs, strict=True))
    assert torch.equal(ds[-1][0], ds[len(ds) - 1][0])
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([np.zeros((4, 4))], []), {}, ValueError, "same length, got 1 and 0"),
        (([np.zeros((4, 4))], [np.zeros((4, 5), int)]), {}, ValueError, "same rows and columns"),
        (([np.zeros((4, 4))], [np.zeros((4, 4))]), {}, TypeError, "integer or boolean label"),
        (([np.zeros(4)], [np.zeros(4, int)]), {}, ValueError, "must be a 2D or 3D array"),
        (([], []), {"target": "dist"}, ValueError, "`target` must be 'mask', 'labels' or a"),
        (([], []), {"foreground_prob": 0.5}, ValueError, "needs a `patch_size`"),
        (([], []), {"transform": 3}, TypeError, "`transform` must be callable"),
        (([], []), {"seed": -1}, ValueError, "`seed` must be an int >= 0, got -1"),
        (([], []), {"patches_per_image": 0}, ValueError, "`patches_per_image` must be"),
    ],
)
def test_pair_dataset_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        PairDataset(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# Folders
# ------------------------------------------------------------------------------------------


def test_folder_dataset_reads_pairs_matched_by_name(tmp_path, pairs):
    for i, (image, labels) in enumerate(pairs):
        write_pair(tmp_path, f"img{i}", image, labels)
    ds = FolderDataset(tmp_path, target="labels")
    assert ds.names == ["img0", "img1", "img2", "img3"]
    assert ds.pixel_sizes_um == [0.5] * 4
    for i, (image, labels) in enumerate(pairs):
        x, y = ds[i]
        np.testing.assert_array_equal(x[0].numpy(), image)
        np.testing.assert_array_equal(y[0].numpy(), labels)


def test_png_masks_are_read(tmp_path, pairs):
    from skimage.io import imsave

    image, labels = pairs[0]
    write_pair(tmp_path, "a", image, labels)
    (tmp_path / "masks" / "a.tif").unlink()
    imsave(tmp_path / "masks" / "a.png", labels.astype(np.uint8), check_contrast=False)
    [(im, lab)] = load_folder(tmp_path)
    np.testing.assert_array_equal(lab, labels)


def test_unmatched_files_are_named(tmp_path, pairs):
    image, labels = pairs[0]
    write_pair(tmp_path, "a", image, labels)
    write_pair(tmp_path, "b", image, labels, mask_name="c")
    with pytest.raises(ValueError, match="images without a mask: b; masks without an image: c"):
        FolderDataset(tmp_path)


def test_mismatched_shapes_are_named(tmp_path, pairs):
    image, labels = pairs[0]
    write_pair(tmp_path, "a", image, labels[:, :70])
    with pytest.raises(
        ValueError, match=r"image and mask 'a' must have the same rows .*\(64, 70\)"
    ):
        load_folder(tmp_path)


def test_missing_subfolder_and_duplicate_names(tmp_path, pairs):
    with pytest.raises(FileNotFoundError, match="has no 'images' folder"):
        load_folder(tmp_path)
    image, labels = pairs[0]
    write_pair(tmp_path, "a", image, labels)
    write_tiff(tmp_path / "images" / "a.ome.tif", image, axes="YX")
    with pytest.raises(ValueError, match="two files .* have the name 'a'"):
        load_folder(tmp_path)


# ------------------------------------------------------------------------------------------
# Synthetic
# ------------------------------------------------------------------------------------------


def test_synthetic_dataset_is_a_fixed_function_of_the_index():
    a = SyntheticNucleiDataset(3, shape=(48, 48), seed=2, target="labels")
    b = SyntheticNucleiDataset(3, shape=(48, 48), seed=2, target="labels")
    for i in range(3):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])
    assert not torch.equal(a[0][0], a[1][0])
    image, labels = a.generate(1)
    np.testing.assert_array_equal(a[1][1][0].numpy(), labels)


def test_resampling_gives_new_images_each_epoch():
    fixed = SyntheticNucleiDataset(2, shape=(32, 32), seed=0)
    fresh = SyntheticNucleiDataset(2, shape=(32, 32), seed=0, resample_each_epoch=True)
    before = fixed[0][0], fresh[0][0]
    fixed.set_epoch(1)
    fresh.set_epoch(1)
    assert torch.equal(fixed[0][0], before[0])
    assert not torch.equal(fresh[0][0], before[1])


def test_random_and_callable_params():
    ds = SyntheticNucleiDataset(2, shape=(40, 40), params="random", seed=0)
    assert tuple(ds[0][0].shape) == (1, 40, 40)
    calls = []

    def params(rng):
        calls.append(rng)
        return {"coverage": 0.3, "photons": 50.0}

    SyntheticNucleiDataset(1, shape=(40, 40), params=params)[0]
    assert len(calls) == 1 and isinstance(calls[0], np.random.Generator)


def test_synthetic_errors():
    with pytest.raises(ValueError, match="`length` must be an int >= 1"):
        SyntheticNucleiDataset(0)
    with pytest.raises(ValueError, match="`preset` must be one of"):
        SyntheticNucleiDataset(2, preset="nope")
    with pytest.raises(TypeError, match="`params` must be a dict"):
        SyntheticNucleiDataset(2, params=3)
    with pytest.raises(ValueError, match="`seed` must be an int"):
        SyntheticNucleiDataset(2, seed=None)


# ------------------------------------------------------------------------------------------
# Splits
# ------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 60),
    fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4).filter(lambda f: sum(f) > 0),
    seed=st.integers(0, 1000),
)
def test_split_indices_partition_the_items(n, fractions, seed):
    splits = split_indices(n, fractions, rng=seed)
    joined = np.concatenate(splits)
    assert sorted(joined.tolist()) == list(range(n))  # every item exactly once
    target = np.array(fractions) / sum(fractions) * n
    assert (np.abs(np.array([len(s) for s in splits]) - target) < 1).all()


@settings(max_examples=60, deadline=None)
@given(groups=st.lists(st.integers(0, 6), min_size=1, max_size=40), seed=st.integers(0, 1000))
def test_groups_never_span_two_splits(groups, seed):
    splits = split_indices(len(groups), (0.6, 0.2, 0.2), rng=seed, groups=groups)
    owner = {}
    for s, idx in enumerate(splits):
        for i in idx:
            assert owner.setdefault(groups[i], s) == s


def test_split_is_reproducible():
    assert all(
        np.array_equal(a, b)
        for a, b in zip(split_indices(20, rng=3), split_indices(20, rng=3), strict=True)
    )


@settings(max_examples=30, deadline=None)
@given(choice=st.lists(st.integers(0, 4), min_size=2, max_size=25), seed=st.integers(0, 100))
def test_duplicate_images_land_in_one_split(choice, seed):
    images = [np.full((3, 3), k) for k in range(5)]
    items = [(images[k].copy(), k) for k in choice]
    splits = split_pairs(items, (0.5, 0.3, 0.2), rng=seed)
    assert sum(map(len, splits)) == len(items)
    check_disjoint(*splits)


def test_check_disjoint_names_the_leak():
    a, b = np.zeros((2, 2)), np.ones((2, 2))
    check_disjoint([a], [b])
    with pytest.raises(ValueError, match="image 0 of 'train' is also image 1 of 'test'"):
        check_disjoint([a], [b, a.copy()], names=["train", "test"])


def test_split_errors():
    with pytest.raises(ValueError, match="`fractions` must be finite numbers >= 0"):
        split_indices(5, (0.5, -0.1))
    with pytest.raises(ValueError, match="one entry per item"):
        split_indices(3, groups=[1, 2])
    with pytest.raises(ValueError, match="`n` must be an int >= 0"):
        split_indices(-1)
