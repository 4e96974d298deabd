"""Runtimes that run one network: `localpose.runtime.litert` (Google's LiteRT interpreter).

Nothing here knows about poses; the model families (`localpose.blazepose`) build on it.
"""
