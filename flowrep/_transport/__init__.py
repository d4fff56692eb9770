"""Transport: optimal transport, tracks, transport scores and entropy.

Imports only flowrep's base modules; independent of `_width` and `_depth`.
"""

from ._divergence import (
    sinkhorn_divergence as sinkhorn_divergence,
    SinkhornDivergenceResult as SinkhornDivergenceResult,
)
from ._entropy import (
    knn_entropy as knn_entropy,
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
)
from ._scores import (
    score_tracks as score_tracks,
    TransportScores as TransportScores,
)
from ._sinkhorn import sinkhorn as sinkhorn, SinkhornResult as SinkhornResult
from ._tracks import (
    FlowRecord as FlowRecord,
    record_tracks as record_tracks,
    TimedNetwork as TimedNetwork,
    TrackedNetwork as TrackedNetwork,
    Tracks as Tracks,
)
from ._w2 import W2Result as W2Result, wasserstein2 as wasserstein2
