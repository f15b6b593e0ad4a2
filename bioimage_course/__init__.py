"""bioimage_course: the tested helper package of the course "Deep learning for bioimage analysis".

One module (or subpackage of small modules) per concept, each introduced by a notebook:

========================  ==========================================  ========
module                    concept                                     notebook
========================  ==========================================  ========
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
========================  ==========================================  ========
"""

__version__ = "0.1.0"

# The course repository: the only place that names it. `bioimage-course set-repo URL` re-points
# the README badges and the notebooks' setup cells for a fork.
REPO_URL = "https://github.com/bioimage-course/bioimage-course"
