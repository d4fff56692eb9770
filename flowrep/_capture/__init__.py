"""Feature capture from real models (Equinox, Flax NNX/Linen, PyTorch) into tracks.

Sits above `_transport` and `_depth`: it turns a user's network and samples
into [`Tracks`][] that every transport score reads (docs/theory/scores.md#tracks).
"""
