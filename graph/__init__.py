"""The engine: configuration, source clients, loaders, paging, limits and errors; no source-specific code."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gemeentegraaf")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0.0.0"
