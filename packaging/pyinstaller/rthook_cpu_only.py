"""PyInstaller runtime hook: the bundle trains on the CPU only.

build.spec blanks the CUDA kernels inside TensorFlow's libraries (the bundle carries no
CUDA runtime to run them), so TensorFlow must never set up a GPU, even where the system
has CUDA installed. Runs before the app's first import.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
