"""Laws and denoising autoencoders (DAEs) as transport.

Sits on `_width`, `_depth` and `_transport`.
"""
