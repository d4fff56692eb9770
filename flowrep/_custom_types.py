"""jaxtyping aliases used across flowrep (one place, as in diffrax).

One shape notation everywhere: a cloud of n points in dimension d is
`(n, d)`; a second cloud has m points, `(m, d)`; J hidden units; T recorded
times or layers. A runtime checker (jaxtyping with beartype) accepts these:
`x: Points, y: OtherPoints` lets the two clouds differ in size but not in d.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Bool, Complex, Float, Inexact, Int, PRNGKeyArray


# Scalars and small things
RealScalarLike: TypeAlias = float | int | ArrayLike
FloatScalar: TypeAlias = Float[Array, ""]

# Points and clouds
Point: TypeAlias = Float[Array, " d"]
Points: TypeAlias = Float[Array, "n d"]
Weights: TypeAlias = Float[Array, " n"]
# A second cloud, of m points in the same dimension d
OtherPoints: TypeAlias = Float[Array, "m d"]
OtherWeights: TypeAlias = Float[Array, " m"]

# Hidden-unit parameters (a_j, b_j) and the values of gamma on them
UnitWeights: TypeAlias = Float[Array, " J"]
UnitScales: TypeAlias = Float[Array, "J d"]
UnitBiases: TypeAlias = Float[Array, " J"]
Gamma: TypeAlias = Inexact[Array, " J"] | Inexact[Array, "J k"]

# Function values: scalar or vector valued
Values: TypeAlias = Inexact[Array, " n"] | Inexact[Array, "n k"]

# Tracks of n samples through L+1 layers or times
TrackArray: TypeAlias = Float[Array, "T n d"]

# A real-valued 1-D profile z -> sigma(z), applied elementwise
Profile: TypeAlias = Callable[[Array], Array]
# Vector fields in the diffrax convention
VectorFieldFn: TypeAlias = Callable[[Any, Array, Any], Array]

Key: TypeAlias = PRNGKeyArray

# Inputs that are converted with jnp.asarray: arrays, scalars, nested sequences
ArrayInput: TypeAlias = ArrayLike | Sequence[Any]

__all__ = [
    "Array",
    "ArrayInput",
    "ArrayLike",
    "Bool",
    "Complex",
    "Float",
    "FloatScalar",
    "Gamma",
    "Inexact",
    "Int",
    "Key",
    "Point",
    "OtherPoints",
    "OtherWeights",
    "Points",
    "Profile",
    "RealScalarLike",
    "TrackArray",
    "UnitBiases",
    "UnitScales",
    "UnitWeights",
    "Values",
    "VectorFieldFn",
    "Weights",
]
