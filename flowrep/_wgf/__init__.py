"""Wasserstein gradient flows: energies, continuous flows, JKO steps, curl fractions.

Sits on `_width`, `_depth`, `_transport` and `_dae`
(docs/theory/gradient-flows.md).
"""

from ._curl import (
    antiderivative as antiderivative,
    curl_fraction as curl_fraction,
    HelmholtzFit as HelmholtzFit,
    non_gradient_fraction as non_gradient_fraction,
    ridgelet_potential as ridgelet_potential,
)
from ._energies import (
    AbstractEnergy as AbstractEnergy,
    EntropyEnergy as EntropyEnergy,
    InteractionEnergy as InteractionEnergy,
    kl_energy as kl_energy,
    PotentialEnergy as PotentialEnergy,
    SumEnergy as SumEnergy,
)
from ._flows import (
    gradient_flow as gradient_flow,
    jko as jko,
    JKOResult as JKOResult,
    ParticleField as ParticleField,
)
from ._reversal import (
    dae_reversal as dae_reversal,
    DAEReversal as DAEReversal,
    gaussian_entropy_fisher as gaussian_entropy_fisher,
)
