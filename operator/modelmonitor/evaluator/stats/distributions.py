"""Tail probabilities of the drift tests' statistics, computed as scipy computes them, without ``scipy.stats``.

Importing ``scipy.stats`` costs ~0.7 s and pulls in most of scipy; an evaluation needs four survival
functions from it. ``scipy.special`` (~0.15 s more) holds them, and is imported only where no exact closed
form does the job: Student's t with Welch's fractional degrees of freedom (``stdtr``), Smirnov's tail above
n = 1e6, where scipy switches to an approximation we then must call. The chi-square tail for integer
degrees of freedom and ``rel_entr`` are closed forms, computed here.

The two-sided one-sample Kolmogorov distribution (``scipy.stats.kstwo.sf``, which ``ks_2samp`` uses in its
asymptotic mode) is ported from ``scipy.stats._ksstats`` (BSD-3-Clause, Simard & L'Ecuyer 2011): the
same branches and the same floating-point steps for the large-n regime every evaluation is in (n > 140);
smaller n, and the rare edge branches, still go to scipy itself. One change: in the band
2.2 <= n x^2 < 370 scipy sums the exact Smirnov series in double-double arithmetic, which costs
~0.4 s per column at n = 500,000 (half a million terms); we sum the same series in float64 with Stirling's
series for the binomial coefficients (every term positive, so no cancellation): ~30 ms at n = 500,000 and
a relative difference below 1e-12 (``tests/unit/evaluator/stats/test_distributions.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["chi_square_sf", "kolmogorov_two_sided_sf", "rel_entr", "smirnov_sf", "student_t_two_sided"]

FloatArray = npt.NDArray[np.float64]
_SQRT2PI = math.sqrt(2 * math.pi)
_SQRT3 = math.sqrt(3)
_PI_SQUARED = math.pi**2
_PI_FOUR = math.pi**4
_PI_SIX = math.pi**6
_MIN_LOG = -708
# Below this n scipy's exact double-double sum is fast enough (and it is the reference): use it.
_DIRECT_SMIRNOV_LIMIT = 140  # below, scipy's exact sum is fast (and ``kolmogorov_two_sided_sf`` uses scipy)
_SCIPY_SMIRNOV_EXACT_LIMIT = 1_000_000  # xsf's SMIRNOV_MAX_COMPUTE_N
_STIRLING_FROM = 16


def _special() -> Any:
    import scipy.special

    return scipy.special


def chi_square_sf(statistic: float, degrees_of_freedom: float) -> float:
    """P(X >= statistic) for a chi-square variable (``scipy.stats.chi2.sf``, i.e. ``scipy.special.chdtrc``).

    For the integer degrees of freedom of a contingency table the tail has a closed form of positive terms
    (no cancellation, ~1e-15 relative): with y = x/2, even k: e^-y sum_{j<k/2} y^j / j!; odd k:
    erfc(sqrt y) + e^-y sum_{j<(k-1)/2} y^(j+1/2) / Gamma(j+3/2). Sums run in log space, so a tail far below
    the smallest double underflows to 0 as scipy's does. Other degrees of freedom go to scipy.
    """
    k = float(degrees_of_freedom)
    x = float(statistic)
    if not (k == int(k) and 1 <= k <= 1_000_000) or not math.isfinite(x):
        return float(_special().chdtrc(k, x))
    if x <= 0:
        return 1.0
    y = x / 2
    if int(k) % 2 == 0:
        orders = np.arange(int(k) // 2, dtype=np.float64)
        head = 0.0
        log_gammas = np.array([math.lgamma(order + 1) for order in orders])
    else:
        orders = np.arange((int(k) - 1) // 2, dtype=np.float64) + 0.5
        head = math.erfc(math.sqrt(y))
        log_gammas = np.array([math.lgamma(order + 1) for order in orders])
    if len(orders) == 0:
        return min(max(head, 0.0), 1.0)
    logs = orders * math.log(y) - log_gammas - y
    top = float(logs.max())
    tail = math.exp(top) * float(np.sum(np.exp(logs - top))) if top > -800 else 0.0
    return min(max(head + tail, 0.0), 1.0)


def student_t_two_sided(statistic: float, degrees_of_freedom: float) -> float:
    """2 * P(T >= |statistic|) for Student's t (what ``scipy.stats`` t-tests report)."""
    return float(2 * _special().stdtr(degrees_of_freedom, -abs(statistic)))


def rel_entr(left: FloatArray, right: FloatArray) -> FloatArray:
    """Elementwise ``x * log(x / y)`` with scipy's conventions (``scipy.special.rel_entr``): 0 where x = 0 and
    y >= 0, infinity where x < 0, y < 0, or x > 0 = y."""
    x, y = np.broadcast_arrays(np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64))
    result = np.full(x.shape, np.inf)
    both = (x > 0) & (y > 0)
    result[both] = x[both] * np.log(x[both] / y[both])
    result[(x == 0) & (y >= 0)] = 0.0
    result[np.isnan(x) | np.isnan(y)] = np.nan
    return result


def _stirling_correction(k: FloatArray) -> FloatArray:
    """log(k!) - (k log k - k + log(2 pi k) / 2) for k >= 1, accurate to ~1e-16 absolute."""
    inverse = 1.0 / k
    square = inverse * inverse
    result: FloatArray = inverse * (
        1.0 / 12 - square * (1.0 / 360 - square * (1.0 / 1260 - square * (1.0 / 1680 - square / 1188)))
    )
    small = np.flatnonzero(k < _STIRLING_FROM)
    if len(small):
        exact = k[small]
        log_factorials = np.array([math.lgamma(value + 1) for value in exact])
        result[small] = log_factorials - (exact * np.log(exact) - exact + 0.5 * np.log(2 * math.pi * exact))
    return result


def _smirnov_log_terms(count: float, x: float, steps: FloatArray) -> FloatArray:
    """log of the terms j = ``steps`` (each >= 1) of the Smirnov series, see :func:`smirnov_sf`."""
    rest = count - steps
    # log C(n, j) = -j log(j/n) - (n-j) log((n-j)/n) + log(n / (2 pi j (n-j))) / 2 + c(n) - c(j) - c(n-j),
    # combined with (n-j) log(1 - x - j/n) and (j-1) log(x + j/n) so that the large parts cancel exactly.
    logs: FloatArray = (
        rest * np.log1p(-x * count / rest)
        + steps * np.log1p(x * count / steps)
        - np.log(x + steps / count)
        + 0.5 * np.log(count / (2 * math.pi * steps * rest))
        + (_stirling_correction(np.array([count]))[0] - _stirling_correction(steps) - _stirling_correction(rest))
    )
    return logs


def smirnov_sf(n: int, x: float) -> float:
    """P(D+_n >= x), the one-sided one-sample KS tail (``scipy.special.smirnov``).

    The exact series x * sum_j C(n, j) (1 - x - j/n)^(n - j) (x + j/n)^(j - 1), j = 0 .. floor(n (1 - x)),
    whose terms are all positive (no cancellation), summed in float64, vectorised. Each term's logarithm is
    written as sums of small quantities (log1p of ratios, Stirling corrections), not as differences of
    log-factorials of size n log n, so the sum keeps ~1e-13 relative accuracy. Above n = 1,000,000 scipy
    itself switches to an approximation, which we then call, as for n <= 20,000, where it is fast.
    """
    if n <= _DIRECT_SMIRNOV_LIMIT or n > _SCIPY_SMIRNOV_EXACT_LIMIT or not 0.0 < x < 1.0:
        return float(_special().smirnov(n, x))
    count = float(n)
    last = math.floor(count * (1.0 - x))
    if 1.0 - x - last / count <= 0:  # that term is 0^(n-j) = 0
        last -= 1
    logs = _smirnov_log_terms(count, x, np.arange(1.0, last + 1.0))
    first = count * math.log1p(-x) - math.log(x)  # j = 0: (1 - x)^n / x
    top = max(first, float(logs.max()))
    total = math.exp(first - top) + float(np.sum(np.exp(logs - top)))
    return float(min(max(math.exp(top + math.log(x * total)), 0.0), 1.0))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz-Good approximation of P(D_n <= x) (scipy's ``_kolmogn_PelzGood``, same steps)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = np.exp(qlog)
    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    terms = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coefficients = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        terms *= qpower
        terms += coefficients
    terms *= q
    terms *= _SQRT2PI
    terms /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpowers = q**ksquared
    k2extra = np.sum(ksquared * qpowers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    terms[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpowers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    terms[3] += k3extra
    powers_of_n = np.power(n * 1.0, np.arange(len(terms)) / 2.0)
    terms /= powers_of_n
    return float(sum(terms))


# long double, as in scipy: once a tiny p is rescaled the rest of the product runs in extended precision
_EP128 = np.ldexp(np.longdouble(1), 128)
_EM128 = np.ldexp(np.longdouble(1), -128)


def _durbin_cdf(n: int, d: float) -> float:
    """P(D_n <= d) by Durbin's matrix (Marsaglia-Tsang-Wang), scipy's ``_kolmogn_DMTW``, same steps."""
    if d >= 1.0:
        return 1.0
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    matrix = np.zeros([m, m])
    steps = np.arange(1, m + 1)
    v = 1.0 - h**steps
    w = np.empty(m)
    factorial = 1.0
    for j in steps:
        w[j - 1] = factorial
        factorial /= j
        v[j - 1] *= factorial
    tail = max(2 * h - 1.0, 0) ** m - 2 * h**m
    v[-1] = (1.0 + tail) * factorial
    for i in range(1, m):
        matrix[i - 1 :, i] = w[: m - i + 1]
    matrix[:, 0] = v
    matrix[-1, :] = np.flip(v, axis=0)
    power = np.eye(np.shape(matrix)[0])
    remaining = n
    exponent = 0
    matrix_exponent = 0
    while remaining > 0:
        if remaining % 2:
            power = np.matmul(power, matrix)
            exponent += matrix_exponent
        matrix = np.matmul(matrix, matrix)
        matrix_exponent *= 2
        if np.abs(matrix[k - 1, k - 1]) > _EP128:
            matrix /= _EP128
            matrix_exponent += 128
        remaining = remaining // 2
    p = power[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if np.abs(p) < _EM128:
            p *= _EP128
            exponent -= 128
    if exponent != 0:
        p = np.ldexp(p, exponent)
    return float(p)


def kolmogorov_two_sided_sf(statistic: float, n: float) -> float:
    """P(D_n >= statistic), two-sided (``scipy.stats.kstwo.sf(statistic, n)``), clipped to [0, 1]."""
    x = float(statistic)
    if math.isnan(x) or math.isnan(n) or int(n) != n or n <= 0:
        return math.nan
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    size = int(n)
    t = size * x
    if size <= 140 or t <= 1.0 or t >= size - 1 or x >= 0.5:
        from scipy import stats as scipy_stats  # small samples and edge branches: scipy itself

        return float(np.clip(scipy_stats.kstwo.sf(x, n), 0.0, 1.0))
    nxsquared = t * x
    if nxsquared >= 370.0:
        return 0.0
    if nxsquared >= 2.2:
        return float(np.clip(2 * smirnov_sf(size, x), 0.0, 1.0))
    durbin = size <= 100000 and size * x**1.5 <= 1.4
    cdf = _durbin_cdf(size, x) if durbin else _pelz_good_cdf(size, x)
    return float(np.clip(1.0 - cdf, 0.0, 1.0))
