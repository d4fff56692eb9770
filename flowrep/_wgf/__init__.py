"""Wasserstein gradient flows: energies, continuous flows, JKO steps, curl fractions.

Sits on `_width`, `_depth`, `_transport` and `_dae`
(docs/theory/gradient-flows.md).
"""
