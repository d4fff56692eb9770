"""Transport: optimal transport, tracks, transport scores and entropy.

Imports only flowrep's base modules; independent of `_width` and `_depth`.
"""
