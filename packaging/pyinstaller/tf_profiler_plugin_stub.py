"""Stand-in for TensorFlow's ``_pywrap_profiler_plugin`` extension in the DigitPad bundle.

The real extension (77 MB even stripped) serves only remote profiling
(``tf.profiler.experimental.client.trace/monitor``) and TensorBoard's profile plugin,
neither of which DigitPad uses; ``import tensorflow`` merely imports it. build.spec puts
this module in its place; calling any of its functions raises a clear error.
"""


def _unavailable(*_args, **_kwargs):
    raise RuntimeError("TensorFlow's remote profiler is not included in the DigitPad app bundle.")


trace = monitor = xspace_to_tools_data = xspace_to_tools_data_from_byte_string = _unavailable
