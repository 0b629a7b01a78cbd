"""Builds the optional C record walker (tlsinspect/capture/_fastwalk.c); everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and the capture reader walks records
in Python (same output, slower; see benchmarks/README.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tlsinspect.capture._fastwalk",
            sources=["tlsinspect/capture/_fastwalk.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
