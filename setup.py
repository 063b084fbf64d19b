"""Only the optional C extension is declared here; everything else is in pyproject.toml.

``app.core._ppkernel`` speeds up preprocessing uint8 images (the drawing pad, on every
mouse move). It is optional: where it cannot be compiled (no C compiler), the install
still succeeds and ``app.core.preprocess`` uses its NumPy code, which gives the same
results.
"""

import sys

from setuptools import Extension, setup

args = ["/O2"] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]
setup(ext_modules=[Extension("app.core._ppkernel", ["app/core/_ppkernel.c"],
                             extra_compile_args=args, optional=True)])
