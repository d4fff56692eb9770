# ruff: noqa: I001  (imports are grouped by layer, in architecture order)
"""flowrep: deep networks as transport.

Architecture (nothing imports upward, `tests/test_architecture.py`):

- `_width`: activations -> ridgelet profiles and admissibility -> the
  ridgelet transform pair -> integral (continuum) networks;
- `_transport`: optimal transport, tracks and transport scores (independent
  of `_width`);
- `_depth` (on `_width`): vector fields, flows, ResNets and plain nets, fit;
- `_dae` (on all three): data laws and denoising autoencoders as transport;
- `_wgf` (on all of the above): Wasserstein gradient flows, JKO, curl fraction;
- `_plot`: figures; `_cli`: the `flowrep` command.

The mathematics is in the repository's `docs/theory/` pages.
"""

import importlib.metadata

# --- activations -------------------------------------------------------------
from ._width._activations import (
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
from ._width._transform import (
    dual_ridgelet_transform as dual_ridgelet_transform,
    ridgelet_transform as ridgelet_transform,
)


# --- ridgelet profiles and admissibility (section: ridgelets) ---------------
from ._width._admissibility import (
    ACHA_TABLE5 as ACHA_TABLE5,
    admissibility as admissibility,
    admissibility_status as admissibility_status,
    admissibility_table as admissibility_table,
    AdmissibilityTable as AdmissibilityTable,
    NotAdmissibleError as NotAdmissibleError,
)
from ._width._ridgelets import (
    AbstractRidgelet as AbstractRidgelet,
    CustomRidgelet as CustomRidgelet,
    GaussianDerivative as GaussianDerivative,
    LambdaGaussian as LambdaGaussian,
)
from ._width._closed_forms import (
    gaussian_mixture_ridgelet_transform as gaussian_mixture_ridgelet_transform,
    gaussian_ridgelet_transform as gaussian_ridgelet_transform,
)

# --- nodes, reconstruction, integral networks (section: integral) -----------
from ._width._integral_net import (
    IntegralNetwork as IntegralNetwork,
    refit_output as refit_output,
    sample_network as sample_network,
)
from ._width._nodes import (
    gaussian_nodes as gaussian_nodes,
    grid_nodes as grid_nodes,
    parameter_grid as parameter_grid,
    sample_parameters as sample_parameters,
    uniform_nodes as uniform_nodes,
)
from ._width._reconstruct import (
    reconstruct as reconstruct,
)

# --- fields and flows (section: flows) ---------------------------------------
from ._depth._vector_field import (
    AbstractUnitField as AbstractUnitField,
    AbstractVectorField as AbstractVectorField,
)
from ._depth._field import (
    RidgeletField as RidgeletField,
)
from ._depth._fit import (
    fit as fit,
    mse_loss as mse_loss,
    sinkhorn_loss as sinkhorn_loss,
)
from ._depth._checkpoint import (
    load_field as load_field,
    save_field as save_field,
)
from ._depth._flow import (
    flow as flow,
)
from ._depth._result import (
    flow_entropy as flow_entropy,
    FlowResult as FlowResult,
)
from ._depth._solvers import (
    RK4 as RK4,
)

# --- resnets and plain nets (section: resnet) ---
from ._depth._plainnet import (
    plain_net_flow as plain_net_flow,
    PlainNetField as PlainNetField,
    refine as refine,
    rotation_log as rotation_log,
)
from ._depth._resnet import (
    AbstractResNet as AbstractResNet,
    euler_network as euler_network,
    EulerNetwork as EulerNetwork,
    ResNet as ResNet,
)
from ._depth._resnet_field import (
    field_from_resnet as field_from_resnet,
    ResNetField as ResNetField,
)
from ._depth._smoothness import (
    depth_smoothness as depth_smoothness,
    DepthSmoothness as DepthSmoothness,
    resnet_block_weights as resnet_block_weights,
)

# --- transport scores (section: transport) -----------------------------------
from ._transport._entropy import (
    knn_entropy as knn_entropy,
)
from ._plot._transport import (
    plot_layer_w2 as plot_layer_w2,
    plot_scores as plot_scores,
    plot_tracks as plot_tracks,
)
from ._transport._affine import affine_score as affine_score
from ._transport._scores import (
    score_tracks as score_tracks,
    TransportScores as TransportScores,
)
from ._transport._tracks import Tracks as Tracks
from ._capture._record import (
    capture_features as capture_features,
    CapturedFeatures as CapturedFeatures,
    record_tracks as record_tracks,
)
from ._transport._projection import (
    jl_epsilon as jl_epsilon,
    project_tracks as project_tracks,
    ProjectionReport as ProjectionReport,
)
from ._transport._gw import (
    coordinate_free_scores as coordinate_free_scores,
    CoordinateFreeScores as CoordinateFreeScores,
)
from ._transport._gaussian import (
    AffineMap as AffineMap,
    gaussian_fit as gaussian_fit,
    gaussian_ot_map as gaussian_ot_map,
    gaussian_w2 as gaussian_w2,
)
from ._transport._exact import (
    assignment_map as assignment_map,
    exact_assignment as exact_assignment,
)
from ._transport._maps import (
    barycentric_projection as barycentric_projection,
    EntropicMap as EntropicMap,
    entropic_map as entropic_map,
)
from ._transport._sinkhorn import (
    sinkhorn as sinkhorn,
    SinkhornResult as SinkhornResult,
)
from ._transport._divergence import (
    sinkhorn_divergence as sinkhorn_divergence,
    SinkhornDivergenceResult as SinkhornDivergenceResult,
)
from ._transport._w2 import (
    W2Result as W2Result,
    wasserstein2 as wasserstein2,
)

# --- laws and DAEs (section: dae) --------------------------------------------
from ._dae._closed_form import (
    deep_dae_flow as deep_dae_flow,
    deep_dae_map as deep_dae_map,
    DeepDAEField as DeepDAEField,
    entropy_curves as entropy_curves,
    shallow_dae as shallow_dae,
    shallow_dae_pushforward as shallow_dae_pushforward,
)
from ._dae._empirical import (
    blurring_mean_shift_flow as blurring_mean_shift_flow,
    BlurringMeanShiftField as BlurringMeanShiftField,
    mean_shift as mean_shift,
)
from ._dae._learned import (
    Denoiser as Denoiser,
    relative_map_error as relative_map_error,
    train_denoiser as train_denoiser,
    train_stacked_denoisers as train_stacked_denoisers,
)
from ._dae._ridgelet import (
    displacement_network as displacement_network,
)
from ._dae._stacked import (
    depth_table as depth_table,
    stacked_dae as stacked_dae,
    stacked_dae_laws as stacked_dae_laws,
)
from ._dae._story import (
    dae_story as dae_story,
)
from ._dae._laws import (
    AbstractLaw as AbstractLaw,
    CollapseError as CollapseError,
    fit_mixture as fit_mixture,
    GaussianLaw as GaussianLaw,
    GaussianMixture as GaussianMixture,
)
from ._wgf._energies import (
    AbstractEnergy as AbstractEnergy,
    EntropyEnergy as EntropyEnergy,
    InteractionEnergy as InteractionEnergy,
    kl_energy as kl_energy,
    PotentialEnergy as PotentialEnergy,
    SumEnergy as SumEnergy,
)
from ._wgf._curl import (
    antiderivative as antiderivative,
    curl_fraction as curl_fraction,
    HelmholtzFit as HelmholtzFit,
    non_gradient_fraction as non_gradient_fraction,
    ridgelet_potential as ridgelet_potential,
)
from ._wgf._reversal import (
    dae_reversal as dae_reversal,
    DAEReversal as DAEReversal,
    gaussian_entropy_fisher as gaussian_entropy_fisher,
    law_entropy_fisher as law_entropy_fisher,
    reversal_scores as reversal_scores,
)
from ._wgf._flow_scores import (
    FlowScores as FlowScores,
    flow_scores as flow_scores,
)
from ._wgf._flows import (
    gradient_flow as gradient_flow,
    jko as jko,
    JKOResult as JKOResult,
    ParticleField as ParticleField,
)


def _distribution_version() -> str:
    # The distribution is `flowrep-transport` (`flowrep` on the package index is
    # an unrelated project); older editable installs were named `flowrep`.
    for name in ("flowrep-transport", "flowrep"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "0+unknown"


__version__ = _distribution_version()
