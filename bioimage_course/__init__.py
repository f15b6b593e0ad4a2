"""bioimage_course: the tested helper package of the course "Deep learning for bioimage analysis".

One module (or subpackage of small modules) per concept, each introduced by a notebook:

========================  ==========================================  =
module                    concept                                     notebook
========================  ==========================================  =
``device``                CPU/GPU choice, seeding, mixed precision    all
``io``                    TIFF/OME-TIFF with axes and pixel size      01
``plot``                  display helpers shared by the notebooks     all
``data``                  synthetic nuclei, datasets, downloads       01-09
``labels``                label images: renumbering objects           01, 07
``filters``               convolution by hand, kernels                02
``normalize``             intensity normalisation                     03
``augment``, ``patches``  augmentation, patch sampling and tiling     04
``models``, ``losses``    U-Net and segmentation losses               05
``training``, ``predict`` training loop, tiled prediction             05
``receptive_field``       analytic and effective receptive field      06
``metrics``               pixel, instance, distance, image metrics    07
``postprocess``           3-class and distance targets, watershed     08
``routes``, ``nuclei``    instance routes, ``segment_nuclei``         08, 09
``pretrain``              the pretrained nuclei model's recipe        08
========================  ==========================================  =

``bioimage_course.segment_nuclei(image)`` segments the nuclei of a fluorescence image with the
shipped pretrained model (see :mod:`bioimage_course.nuclei`).
"""

__version__ = "0.1.0"

# The course repository: the only place that names it. `bioimage-course set-repo URL` re-points
# the README badges and the notebooks' setup cells for a fork.
REPO_URL = "https://github.com/bioimage-course/bioimage-course"

# What the notebooks and this package import: all that a notebook needs where Jupyter already
# runs (Google Colab has every one of them). The Colab setup cell installs the package without
# dependencies, then these, so pip leaves the torch, numpy and Jupyter stack of Colab untouched.
NOTEBOOK_REQUIREMENTS = (
    "numpy>=1.24",
    "scipy>=1.10",
    "scikit-image>=0.21",
    "tifffile>=2023.7.10",
    "matplotlib>=3.7",
    "torch>=2.1",
    "ipywidgets>=8",
    "tqdm>=4.64",
)
# What `bioimage-course run` and `jupyter lab` add on a machine of your own (pyproject.toml lists
# both groups, so `pip install -e .` sets up everything).
RUNNER_REQUIREMENTS = (
    "jupyterlab>=4",
    "ipykernel>=6",
    "nbformat>=5.7",
    "nbclient>=0.8",
    "nbconvert>=7",
)

# Set (to anything but "", "0", "false", "no") for kernels that no frontend will see: interactive
# cells then show static figures only (see `plot.interactive_figure`).
HEADLESS_ENV = "BIOIMAGE_COURSE_HEADLESS"


def __getattr__(name: str):
    # imported on first use, so that ``import bioimage_course`` stays light (no torch)
    if name == "segment_nuclei":
        from .nuclei import segment_nuclei

        return segment_nuclei
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
