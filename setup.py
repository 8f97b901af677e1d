"""Build glue: setuptools reads everything else from pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["_native/build_shim.py:ffibuilder"])
