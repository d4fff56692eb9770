"""The depth continuum: vector fields, flows, ResNets, plain nets and training.

Sits on `_width`; never imports `_transport`, `_dae`, `_plot` or `_cli`.
"""
