"""Activation profiles sigma and their 1-D Fourier transforms.

Convention (docs/theory/ridgelets.md#conventions): $\\hat f(\\omega)=\\int f(z)e^{-iz\\omega}dz$. Most
activations are not integrable, so their transforms are distributions; what
is returned here is the transform *away from* $\\omega=0$, which is all the
admissibility pairing needs when the ridgelet side vanishes fast enough at 0.
"""

import abc
import numbers
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def as_complex(x: Array) -> Array:
    """`x` as a complex array (complex64 unless `x` is wider)."""
    dtype = jnp.result_type(x, jnp.complex64)
    return jnp.asarray(x, dtype=dtype)


def as_input(z: ArrayLike, name: str = "z") -> Array:
    """`z` as a JAX array, with a `TypeError` naming `name` for strings and
    other values that are not numbers (jnp's own message does not name it)."""
    if isinstance(z, (str, bytes)) or z is None:
        raise TypeError(f"`{name}` must be a numeric array; got {z!r}.")
    try:
        arr = jnp.asarray(z)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a numeric array; got {type(z).__name__}."
        ) from None
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}.")
    return arr


class AbstractActivation(eqx.Module):
    """A scalar activation profile $\\sigma:\\mathbb R\\to\\mathbb R$, applied elementwise.

    Subclasses give `__call__` (values), `fourier` (the 1-D Fourier transform
    $\\sigma^\\sharp(\\omega)$ for $\\omega\\neq0$), `parity` (+1 even, -1 odd, 0
    neither) and `growth` (the polynomial growth order $k$ with
    $|\\sigma(z)|=O(|z|^k)$; -1 when $\\sigma$ decays and is integrable).
    """

    name: eqx.AbstractVar[str]
    parity: eqx.AbstractVar[int]
    growth: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, z: ArrayLike) -> Array:
        """Values $\\sigma(z)$, elementwise."""

    @abc.abstractmethod
    def fourier(self, omega: ArrayLike) -> Array:
        """$\\sigma^\\sharp(\\omega)$ for $\\omega\\neq0$ (complex), elementwise."""


class ReLU(AbstractActivation):
    """$\\max(z, 0)$; $\\sigma^\\sharp(\\omega)=-1/\\omega^2$ away from 0."""

    name: str = eqx.field(static=True, default="relu", init=False)
    parity: int = eqx.field(static=True, default=0, init=False)
    growth: int = eqx.field(static=True, default=1, init=False)

    def __call__(self, z):
        return jnp.maximum(as_input(z), 0)

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return as_complex(-1.0 / omega**2)


class LeakyReLU(AbstractActivation):
    """$\\max(z,\\alpha z)$ with slope `alpha` in (0, 1); transform $-(1-\\alpha)/\\omega^2$."""

    alpha: float = eqx.field(static=True, default=0.1)
    name: str = eqx.field(static=True, default="leaky_relu", init=False)
    parity: int = eqx.field(static=True, default=0, init=False)
    growth: int = eqx.field(static=True, default=1, init=False)

    def __check_init__(self):
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(
                f"LeakyReLU needs a real `alpha` with 0 < alpha < 1, got alpha={alpha!r}."
            )
        if not 0 < alpha < 1:
            raise ValueError(f"LeakyReLU needs 0 < alpha < 1, got alpha={alpha}.")

    def __call__(self, z):
        z = as_input(z)
        return jnp.where(z >= 0, z, self.alpha * z)

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return as_complex(-(1.0 - self.alpha) / omega**2)


class Tanh(AbstractActivation):
    """$\\tanh z$; $\\sigma^\\sharp(\\omega)=-i\\pi/\\sinh(\\pi\\omega/2)$."""

    name: str = eqx.field(static=True, default="tanh", init=False)
    parity: int = eqx.field(static=True, default=-1, init=False)
    growth: int = eqx.field(static=True, default=0, init=False)

    def __call__(self, z):
        return jnp.tanh(as_input(z))

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return -1j * jnp.pi / as_complex(jnp.sinh(jnp.pi * omega / 2))


class Sigmoid(AbstractActivation):
    """$1/(1+e^{-z})$; $\\sigma^\\sharp(\\omega)=-i\\pi/\\sinh(\\pi\\omega)$ (plus $\\pi\\delta$)."""

    name: str = eqx.field(static=True, default="sigmoid", init=False)
    parity: int = eqx.field(static=True, default=0, init=False)
    growth: int = eqx.field(static=True, default=0, init=False)

    def __call__(self, z):
        return jax.nn.sigmoid(as_input(z))

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return -1j * jnp.pi / as_complex(jnp.sinh(jnp.pi * omega))


class Softplus(AbstractActivation):
    """$\\log(1+e^z)$; $\\sigma^\\sharp(\\omega)=-\\pi/(\\omega\\sinh(\\pi\\omega))$.

    (Its derivative is the sigmoid, so $\\sigma^\\sharp=\\mathrm{sigmoid}^\\sharp/(i\\omega)$.)
    """

    name: str = eqx.field(static=True, default="softplus", init=False)
    parity: int = eqx.field(static=True, default=0, init=False)
    growth: int = eqx.field(static=True, default=1, init=False)

    def __call__(self, z):
        return jax.nn.softplus(as_input(z))

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return as_complex(-jnp.pi / (omega * jnp.sinh(jnp.pi * omega)))


class Gaussian(AbstractActivation):
    """$G(z)=e^{-z^2/2}$; $\\sigma^\\sharp(\\omega)=\\sqrt{2\\pi}e^{-\\omega^2/2}$."""

    name: str = eqx.field(static=True, default="gaussian", init=False)
    parity: int = eqx.field(static=True, default=1, init=False)
    growth: int = eqx.field(static=True, default=-1, init=False)

    def __call__(self, z):
        z = as_input(z)
        return jnp.exp(-0.5 * z**2)

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return as_complex(jnp.sqrt(2 * jnp.pi) * jnp.exp(-0.5 * omega**2))


class Step(AbstractActivation):
    """Heaviside step $1[z>0]$; $\\sigma^\\sharp(\\omega)=1/(i\\omega)$ (plus $\\pi\\delta$)."""

    name: str = eqx.field(static=True, default="step", init=False)
    parity: int = eqx.field(static=True, default=0, init=False)
    growth: int = eqx.field(static=True, default=0, init=False)

    def __call__(self, z):
        z = as_input(z)
        return jnp.where(z > 0, 1.0, 0.0).astype(jnp.result_type(z, float))

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        return -1j / as_complex(omega)


class SigmoidDerivative(AbstractActivation):
    """$\\sigma'$ of the sigmoid, $e^{-z}/(1+e^{-z})^2$; transform $\\pi\\omega/\\sinh(\\pi\\omega)$."""

    name: str = eqx.field(static=True, default="sigmoid_derivative", init=False)
    parity: int = eqx.field(static=True, default=1, init=False)
    growth: int = eqx.field(static=True, default=-1, init=False)

    def __call__(self, z):
        s = jax.nn.sigmoid(as_input(z))
        return s * (1 - s)

    def fourier(self, omega):
        omega = as_input(omega, "omega")
        x = jnp.pi * omega
        safe = jnp.where(x == 0, 1.0, x)
        return as_complex(jnp.where(x == 0, 1.0, safe / jnp.sinh(safe)))


class Identity(AbstractActivation):
    """$\\sigma(z)=z$. Its transform $2\\pi i\\delta'$ sits at $\\omega=0$: zero elsewhere.

    Polynomials are never admissible (docs/theory/ridgelets.md#activation-fourier).
    """

    name: str = eqx.field(static=True, default="identity", init=False)
    parity: int = eqx.field(static=True, default=-1, init=False)
    growth: int = eqx.field(static=True, default=1, init=False)

    def __call__(self, z):
        return as_input(z)

    def fourier(self, omega):
        return as_complex(jnp.zeros_like(jnp.asarray(omega, dtype=float)))


def check_custom_profile(profile, what: str) -> None:
    """The fields of a user-supplied profile: callables, parity, growth, name."""
    for field in ("fn", "fourier_fn"):
        value = getattr(profile, field)
        if not callable(value):
            raise TypeError(
                f"{what} needs callables `fn` and `fourier_fn`; `{field}` is "
                f"{type(value).__name__}."
            )
    parity = profile.parity
    if isinstance(parity, bool) or parity not in (-1, 0, 1):
        raise ValueError(f"parity must be -1, 0 or 1; got {parity!r} (`parity`).")
    growth = profile.growth
    if (
        isinstance(growth, bool)
        or not isinstance(growth, numbers.Integral)
        or growth < -1
    ):
        raise ValueError(
            f"`growth` must be an integer >= -1 (-1: integrable); got {growth!r}."
        )
    if not isinstance(profile.name, str):
        raise TypeError(f"`name` must be a string; got {type(profile.name).__name__}.")


class CustomActivation(AbstractActivation):
    """A user-supplied activation: a callable and its Fourier transform away from 0.

    **Arguments:**

    - `fn`: elementwise $z\\mapsto\\sigma(z)$.
    - `fourier_fn`: elementwise $\\omega\\mapsto\\sigma^\\sharp(\\omega)$, $\\omega\\neq0$.
    - `parity`: +1 even, -1 odd, 0 neither.
    - `growth`: polynomial growth order (-1 for integrable profiles).
    - `name`: a label used in messages and reports.
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)
    fourier_fn: Callable[[Array], Array] = eqx.field(static=True)
    parity: int = eqx.field(static=True, default=0)
    growth: int = eqx.field(static=True, default=0)
    name: str = eqx.field(static=True, default="custom")

    def __check_init__(self):
        check_custom_profile(self, "CustomActivation")

    def __call__(self, z):
        return self.fn(as_input(z))

    def fourier(self, omega):
        return as_complex(self.fourier_fn(as_input(omega, "omega")))


_BY_NAME: dict[str, Callable[[], AbstractActivation]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
    "gaussian": Gaussian,
    "step": Step,
    "sigmoid_derivative": SigmoidDerivative,
    "identity": Identity,
    "linear": Identity,
}


def activation_argument(
    value: "str | AbstractActivation", name: str
) -> AbstractActivation:
    """`get_activation(value)`, its errors naming the caller's argument `name`."""
    try:
        return get_activation(value)
    except (TypeError, ValueError) as e:
        raise type(e)(
            str(e).replace(
                "(argument `name`)",
                f"(argument `{name}`, looked up by get_activation's `name`)",
            )
        ) from None


def get_activation(name: "str | AbstractActivation") -> AbstractActivation:
    """Look an activation up by name (`"relu"`, `"tanh"`, ...); instances pass through.

    **Raises:** `ValueError` naming the known activations for an unknown name.
    """
    if isinstance(name, AbstractActivation):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"Expected an activation name or an AbstractActivation, got {type(name).__name__} (argument `name`)."
        )
    try:
        return _BY_NAME[name.lower()]()
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise ValueError(
            f"Unknown activation {name!r}; expected one of: {known} (argument `name`)."
        ) from None
