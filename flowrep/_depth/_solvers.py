"""Solvers and adjoints for `flow`: the classical RK4 tableau and the name registries."""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import numpy as np


_rk4_tableau = diffrax.ButcherTableau(
    a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    # Embedded midpoint method (order 2): only for adaptive use; fixed steps ignore it.
    b_error=np.array([1 / 6, 1 / 3 - 1, 1 / 3, 1 / 6]),
    c=np.array([0.5, 0.5, 1.0]),
)


class RK4(diffrax.AbstractERK):
    """The classical 4th-order Runge-Kutta method (4 stages), for fixed steps.

    Carries an embedded midpoint method so it also runs under a
    `PIDController`, though `Tsit5`/`Dopri5` are better adaptive choices.
    """

    tableau: ClassVar[diffrax.ButcherTableau] = _rk4_tableau
    interpolation_cls: ClassVar[
        Callable[..., diffrax.ThirdOrderHermitePolynomialInterpolation]
    ] = diffrax.ThirdOrderHermitePolynomialInterpolation.from_k

    def order(self, terms):
        del terms
        return 4


_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
    "ralston": diffrax.Ralston,
    "rk4": RK4,
    "bosh3": diffrax.Bosh3,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
}
_ADJOINTS: dict[str, Callable[[], diffrax.AbstractAdjoint]] = {
    "recursive": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
}


def get_solver(solver) -> diffrax.AbstractSolver:
    if solver is None:
        return diffrax.Tsit5()
    if isinstance(solver, str):
        try:
            return _SOLVERS[solver.lower()]()
        except KeyError:
            raise ValueError(
                f"Unknown solver {solver!r}; expected one of {sorted(_SOLVERS)} or a diffrax solver."
            ) from None
    if isinstance(solver, diffrax.AbstractSolver):
        return solver
    raise TypeError(f"`solver` must be a name or a diffrax solver; got {solver!r}.")


def get_adjoint(adjoint) -> diffrax.AbstractAdjoint:
    if adjoint is None:
        return diffrax.RecursiveCheckpointAdjoint()
    if isinstance(adjoint, str):
        try:
            return _ADJOINTS[adjoint.lower()]()
        except KeyError:
            raise ValueError(
                f"Unknown adjoint {adjoint!r}; expected one of {sorted(_ADJOINTS)} or a diffrax adjoint."
            ) from None
    if isinstance(adjoint, diffrax.AbstractAdjoint):
        return adjoint
    raise TypeError(f"`adjoint` must be a name or a diffrax adjoint; got {adjoint!r}.")


def explicit_tableau(solver) -> tuple[tuple, np.ndarray, np.ndarray] | None:
    """(a_lower, b_sol, c) of an explicit RK solver, trailing unused stages dropped."""
    if type(solver) is diffrax.Euler:
        return (), np.array([1.0]), np.zeros(0)
    if not isinstance(solver, diffrax.AbstractERK):
        return None
    tab = solver.tableau
    if not isinstance(tab, diffrax.ButcherTableau):
        return None
    a_lower = tuple(np.asarray(a) for a in tab.a_lower)
    b = np.asarray(tab.b_sol)
    c = np.asarray(tab.c)
    # FSAL tableaus (Tsit5, Dopri5) end on a stage with zero weight: skip it.
    stages = len(b)
    while stages > 1 and b[stages - 1] == 0:
        stages -= 1
    return a_lower[: stages - 1], b[:stages], c[: stages - 1]
