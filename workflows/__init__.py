"""Deterministic workflow definitions and the pure types they exchange.

Nothing here performs I/O: activities do. The registered workflow types are listed in
:mod:`workflows.registry`; this package root imports nothing so that the pure types can be
used without loading the workflow classes.
"""
