"""Old home of the transport solvers, kept so `from ._transport._ot import ...`
keeps working for modules outside `_transport` until they import from
`flowrep._transport` (each concept now lives in its own module)."""

from ._clouds import mean_cost as mean_cost
from ._divergence import (
    sinkhorn_divergence as sinkhorn_divergence,
    SinkhornDivergenceResult as SinkhornDivergenceResult,
)
from ._exact import (
    assignment_map as assignment_map,
    exact_assignment as exact_assignment,
)
from ._gaussian import (
    AffineMap as AffineMap,
    gaussian_fit as gaussian_fit,
    gaussian_ot_map as gaussian_ot_map,
    gaussian_w2 as gaussian_w2,
)
from ._maps import (
    barycentric_projection as barycentric_projection,
    entropic_map as entropic_map,
    EntropicMap as EntropicMap,
    plan_argmax as plan_argmax,
)
from ._sinkhorn import sinkhorn as sinkhorn, SinkhornResult as SinkhornResult
from ._w2 import W2Result as W2Result, wasserstein2 as wasserstein2
