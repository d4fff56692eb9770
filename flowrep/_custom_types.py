"""jaxtyping aliases used across flowrep (one place, as in diffrax)."""

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Bool, Complex, Float, Inexact, Int, PRNGKeyArray


# Scalars and small things
RealScalarLike: TypeAlias = float | int | ArrayLike
FloatScalar: TypeAlias = Float[Array, ""]
BoolScalar: TypeAlias = Bool[Array, ""]

# Points and clouds
Point: TypeAlias = Float[Array, " m"]
Points: TypeAlias = Float[Array, "n m"]
Weights: TypeAlias = Float[Array, " n"]

# Hidden-unit parameters (a_j, b_j) and the values of gamma on them
UnitWeights: TypeAlias = Float[Array, " J"]
UnitScales: TypeAlias = Float[Array, "J m"]
UnitBiases: TypeAlias = Float[Array, " J"]
Gamma: TypeAlias = Inexact[Array, " J"] | Inexact[Array, "J k"]

# Function values: scalar or vector valued
Values: TypeAlias = Inexact[Array, " n"] | Inexact[Array, "n k"]

# Tracks of n samples through L+1 layers or times
TrackArray: TypeAlias = Float[Array, "T n m"]

# A real-valued 1-D profile z -> sigma(z), applied elementwise
Profile: TypeAlias = Callable[[Array], Array]
# A target function: one point in, a scalar or vector out
TargetFn: TypeAlias = Callable[[Array], Array]
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
    "BoolScalar",
    "Complex",
    "Float",
    "FloatScalar",
    "Gamma",
    "Inexact",
    "Int",
    "Key",
    "Point",
    "Points",
    "Profile",
    "RealScalarLike",
    "TargetFn",
    "TrackArray",
    "UnitBiases",
    "UnitScales",
    "UnitWeights",
    "Values",
    "VectorFieldFn",
    "Weights",
]
