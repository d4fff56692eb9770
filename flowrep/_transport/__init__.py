"""Transport: optimal transport, tracks, transport scores and entropy.

Imports only flowrep's base modules; independent of `_width` and `_depth`.
"""

from ._entropy import (
    knn_entropy as knn_entropy,
)
from ._ot import (
    AffineMap as AffineMap,
    assignment_map as assignment_map,
    barycentric_projection as barycentric_projection,
    entropic_map as entropic_map,
    EntropicMap as EntropicMap,
    exact_assignment as exact_assignment,
    gaussian_fit as gaussian_fit,
    gaussian_ot_map as gaussian_ot_map,
    gaussian_w2 as gaussian_w2,
    sinkhorn as sinkhorn,
    sinkhorn_divergence as sinkhorn_divergence,
    SinkhornDivergenceResult as SinkhornDivergenceResult,
    SinkhornResult as SinkhornResult,
    W2Result as W2Result,
    wasserstein2 as wasserstein2,
)
from ._scores import (
    score_tracks as score_tracks,
    TransportScores as TransportScores,
)
from ._tracks import (
    record_tracks as record_tracks,
    Tracks as Tracks,
)
