# ruff: noqa: I001  (imports are grouped by layer, in architecture order)
"""flowrep: deep networks as transport.

Architecture (nothing imports upward): activations -> ridgelet profiles and
admissibility -> ridgelet transforms -> integral (continuum) networks ->
fields and flows -> transport scores; DAE, plain-net and ResNet models are
built on those.
"""

import importlib.metadata

from . import _ott_compat as _ott_compat  # ott-jax online mode on jax >= 0.10

# --- activations -------------------------------------------------------------
from ._activations import (
    AbstractActivation as AbstractActivation,
    CustomActivation as CustomActivation,
    Gaussian as Gaussian,
    get_activation as get_activation,
    Identity as Identity,
    LeakyReLU as LeakyReLU,
    ReLU as ReLU,
    Sigmoid as Sigmoid,
    SigmoidDerivative as SigmoidDerivative,
    Softplus as Softplus,
    Step as Step,
    Tanh as Tanh,
)

# --- ridgelet transform pair -------------------------------------------------
from ._transform import (
    dual_ridgelet_transform as dual_ridgelet_transform,
    ridgelet_transform as ridgelet_transform,
)


# --- ridgelet profiles and admissibility (section: ridgelets) ---------------
from ._admissibility import (
    ACHA_TABLE5 as ACHA_TABLE5,
    admissibility as admissibility,
    admissibility_status as admissibility_status,
    admissibility_table as admissibility_table,
    AdmissibilityTable as AdmissibilityTable,
    NotAdmissibleError as NotAdmissibleError,
)
from ._ridgelets import (
    AbstractRidgelet as AbstractRidgelet,
    CustomRidgelet as CustomRidgelet,
    gaussian_mixture_ridgelet_transform as gaussian_mixture_ridgelet_transform,
    gaussian_ridgelet_transform as gaussian_ridgelet_transform,
    GaussianDerivative as GaussianDerivative,
    LambdaGaussian as LambdaGaussian,
)
# --- nodes, reconstruction, integral networks (section: integral) -----------
from ._integral_net import (
    IntegralNetwork as IntegralNetwork,
    refit_output as refit_output,
    sample_network as sample_network,
)
from ._nodes import (
    gaussian_nodes as gaussian_nodes,
    grid_nodes as grid_nodes,
    parameter_grid as parameter_grid,
    sample_parameters as sample_parameters,
    uniform_nodes as uniform_nodes,
)
from ._reconstruct import reconstruct as reconstruct
# --- fields and flows (section: flows) ---------------------------------------
# --- resnets and plain nets (section: resnet) ---
# --- transport scores (section: transport) -----------------------------------
# --- laws and DAEs (section: dae) --------------------------------------------


__version__ = importlib.metadata.version("flowrep")
