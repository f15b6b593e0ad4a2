"""``python -m bioimage_course`` is the ``bioimage-course`` command."""

import sys

from .cli import main

sys.exit(main())
