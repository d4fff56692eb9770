"""The width continuum: activations, ridgelet profiles, admissibility, nodes,
the ridgelet transform pair, reconstruction and integral networks.

Imports only flowrep's base modules (`_custom_types`, `_validate`, `_io`).
"""
