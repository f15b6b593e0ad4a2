"""bioimage_course: the tested helper package of the course "Deep learning for bioimage analysis".

One module per concept, each introduced by a notebook:

========================  ==========================================  ========
module                    concept                                     notebook
========================  ==========================================  ========
``device``                CPU/GPU choice, seeding, mixed precision    all
``io``                    TIFF/OME-TIFF with axes and pixel size      01
``plot``                  display helpers shared by the notebooks     all
``data``                  synthetic nuclei, datasets, downloads       01-09
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
========================  ==========================================  ========

``bioimage_course.segment_nuclei(image)`` segments the nuclei of a fluorescence image with the
shipped pretrained model (see :mod:`bioimage_course.nuclei`).
"""

__version__ = "0.1.0"

# The course repository: the only place that names it. `bioimage-course set-repo URL` re-points
# the README badges and the notebooks' setup cells for a fork.
REPO_URL = "https://github.com/bioimage-course/bioimage-course"


def __getattr__(name: str):
    # imported on first use, so that ``import bioimage_course`` stays light (no torch)
    if name == "segment_nuclei":
        from .nuclei import segment_nuclei

        return segment_nuclei
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
