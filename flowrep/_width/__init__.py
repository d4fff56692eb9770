"""The width continuum: activations, ridgelet profiles, admissibility, nodes,
the ridgelet transform pair, reconstruction and integral networks.

Imports only flowrep's base modules (`_custom_types`, `_validate`, `_io`).
"""

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
from ._admissibility import (
    ACHA_TABLE5 as ACHA_TABLE5,
    admissibility as admissibility,
    admissibility_status as admissibility_status,
    admissibility_table as admissibility_table,
    AdmissibilityTable as AdmissibilityTable,
    NotAdmissibleError as NotAdmissibleError,
)
from ._closed_forms import (
    gaussian_mixture_ridgelet_transform as gaussian_mixture_ridgelet_transform,
    gaussian_ridgelet_transform as gaussian_ridgelet_transform,
)
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
from ._reconstruct import (
    reconstruct as reconstruct,
)
from ._ridgelets import (
    AbstractRidgelet as AbstractRidgelet,
    CustomRidgelet as CustomRidgelet,
    GaussianDerivative as GaussianDerivative,
    LambdaGaussian as LambdaGaussian,
)
from ._transform import (
    dual_ridgelet_transform as dual_ridgelet_transform,
    ridgelet_transform as ridgelet_transform,
)
