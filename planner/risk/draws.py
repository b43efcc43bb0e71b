"""Random draws of ranged inputs: a Gaussian copula over the ranges, vectorised with numpy.

For N draws of k ranged inputs: standard normal scores Z (N, k) from a seeded numpy
Generator; scores of correlated inputs are mixed by a square root of their correlation
matrix (Cholesky, or an eigen-decomposition when the matrix is only semi-definite, as with
rho = 1), so rho is the correlation of the normal scores. Each column is then turned into
its distribution through the inverse CDF: triangular and uniform through U = Phi(Z), normal
as mean + sd Z, lognormal as median exp(sigma Z). Draws are clipped to the field's bounds
and integer fields rounded half up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from planner.models import RANGED_MODELS
from planner.ranges import (
    Distribution,
    FieldSpec,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    numeric_fields,
    split_path,
)
from planner.sizing import FloatArray

__all__ = [
    "draw_inputs",
    "from_normal_scores",
    "normal_scores",
    "path_spec",
    "settle",
    "triangular_ppf",
]


def path_spec(path: str) -> FieldSpec:
    """The FieldSpec (integer or not, bounds) of the field at a field path."""
    section, _, name = split_path(path)
    return numeric_fields(RANGED_MODELS[section])[name]


def triangular_ppf(u: FloatArray, low: float, mode: float, high: float) -> FloatArray:
    """Inverse CDF of the triangular distribution at probabilities ``u``."""
    if high == low:
        return np.full_like(u, low)
    width = high - low
    split = (mode - low) / width
    left = low + np.sqrt(u * width * (mode - low))
    right = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(u < split, left, right)


def from_normal_scores(dist: Distribution, z: FloatArray) -> FloatArray:
    """Values of ``dist`` at standard normal scores ``z`` (same shape)."""
    if isinstance(dist, Triangular):
        return triangular_ppf(ndtr(z), dist.low, dist.typical, dist.high)
    if isinstance(dist, Uniform):
        return np.asarray(dist.low + (dist.high - dist.low) * ndtr(z), dtype=np.float64)
    if isinstance(dist, Normal):
        return dist.mean + dist.sd * z
    if isinstance(dist, LogNormal):
        return np.asarray(dist.median * np.exp(dist.sigma * z), dtype=np.float64)
    raise TypeError(f"not a range: {dist!r}")  # pragma: no cover - the union is closed


def settle(values: FloatArray, spec: FieldSpec) -> FloatArray:
    """Clip ``values`` to the field's bounds; round half up for integer fields."""
    out = np.clip(values, spec.lower(), spec.upper())
    if spec.integer:
        out = np.floor(out + 0.5)
    return np.asarray(out, dtype=np.float64)


def _root(matrix: FloatArray) -> FloatArray:
    """A matrix R with R Rᵀ = ``matrix`` (Cholesky, else from the eigen-decomposition)."""
    try:
        return np.asarray(np.linalg.cholesky(matrix), dtype=np.float64)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(matrix)
        return np.asarray(vectors * np.sqrt(np.clip(values, 0.0, None)), dtype=np.float64)


def normal_scores(
    paths: Sequence[str],
    correlations: Sequence[tuple[str, str, float]],
    n: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Standard normal scores (n, len(paths)), correlated as ``correlations`` say."""
    z = rng.standard_normal((n, len(paths)))
    involved = sorted(
        {p for a, b, _ in correlations for p in (a, b) if p in paths}, key=paths.index
    )
    if not involved:
        return z
    index = {p: i for i, p in enumerate(involved)}
    matrix = np.eye(len(involved))
    for a, b, rho in correlations:
        if a in index and b in index:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    columns = [paths.index(p) for p in involved]
    z[:, columns] = z[:, columns] @ _root(matrix).T
    return z


def draw_inputs(
    ranges: Mapping[str, Distribution],
    correlations: Sequence[tuple[str, str, float]],
    n: int,
    rng: np.random.Generator,
) -> dict[str, FloatArray]:
    """``n`` draws of every ranged input, by field path: (n,) arrays, clipped and rounded."""
    paths = list(ranges)
    z = normal_scores(paths, correlations, n, rng)
    return {
        path: settle(from_normal_scores(dist, z[:, i]), path_spec(path))
        for i, (path, dist) in enumerate(ranges.items())
    }
