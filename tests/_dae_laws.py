"""The laws the DAE tests share: a 2-D Gaussian and a two-component mixture."""

import jax.numpy as jnp
import numpy as np

from flowrep._dae._laws import GaussianLaw, GaussianMixture


MEAN = np.array([1.0, -1.0])
COV = np.array([[2.0, 0.5], [0.5, 1.0]])
LAM = np.linalg.eigvalsh(COV)


def gaussian() -> GaussianLaw:
    return GaussianLaw(MEAN, COV)


def mixture() -> GaussianMixture:
    return GaussianMixture(
        jnp.array([0.3, 0.7]),
        jnp.array([[-2.0, 0.0], [2.0, 0.5]]),
        jnp.stack([0.5 * jnp.eye(2), jnp.array([[1.0, 0.3], [0.3, 0.6]])]),
    )
