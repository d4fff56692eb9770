"""matplotlib figures (optional extra `plot`). Sits on `_transport`."""

from ._transport import (
    plot_layer_w2 as plot_layer_w2,
    plot_scores as plot_scores,
    plot_tracks as plot_tracks,
)
