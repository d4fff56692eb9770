"""Laws and denoising autoencoders (DAEs) as transport.

Sits on `_width`, `_depth` and `_transport`.
"""

from ._closed_form import (
    deep_dae_flow as deep_dae_flow,
    deep_dae_map as deep_dae_map,
    DeepDAEField as DeepDAEField,
    entropy_curves as entropy_curves,
    shallow_dae as shallow_dae,
    shallow_dae_pushforward as shallow_dae_pushforward,
)
from ._empirical import (
    blurring_mean_shift_flow as blurring_mean_shift_flow,
    BlurringMeanShiftField as BlurringMeanShiftField,
    mean_shift as mean_shift,
)
from ._laws import (
    AbstractLaw as AbstractLaw,
    CollapseError as CollapseError,
    fit_mixture as fit_mixture,
    GaussianLaw as GaussianLaw,
    GaussianMixture as GaussianMixture,
)
from ._learned import (
    Denoiser as Denoiser,
    relative_map_error as relative_map_error,
    train_denoiser as train_denoiser,
    train_stacked_denoisers as train_stacked_denoisers,
)
from ._ridgelet import (
    displacement_network as displacement_network,
)
from ._stacked import (
    depth_table as depth_table,
    stacked_dae as stacked_dae,
    stacked_dae_laws as stacked_dae_laws,
)
from ._story import (
    dae_story as dae_story,
)
