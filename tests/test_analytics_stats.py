"""The t quantile without scipy, against published table values and closed forms, and the
mean with its t-based 95 % CI, hand-computed."""

import math

import pytest

from analytics.stats import mean_ci, regularized_beta, t_cdf, t_quantile

# Two-sided 95 % (p = 0.975) and 99 % (p = 0.995) critical values of Student's t, as printed in
# standard tables (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), to the 3-4 decimals given there.
TABLE = [
    (0.975, 1, 12.706),
    (0.975, 2, 4.303),
    (0.975, 3, 3.182),
    (0.975, 4, 2.776),
    (0.975, 5, 2.571),
    (0.975, 9, 2.262),
    (0.975, 10, 2.228),
    (0.975, 20, 2.086),
    (0.975, 30, 2.042),
    (0.975, 100, 1.984),
    (0.995, 1, 63.657),
    (0.995, 4, 4.604),
    (0.995, 10, 3.169),
    (0.95, 1, 6.314),
    (0.95, 10, 1.812),
    (0.9, 5, 1.476),
]


@pytest.mark.parametrize(("p", "df", "expected"), TABLE)
def test_t_quantile_matches_the_table(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_closed_forms_and_limits():
    for p in (0.6, 0.9, 0.975, 0.999):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)  # Cauchy
        alpha = 4 * p * (1 - p)
        assert t_quantile(p, 2) == pytest.approx(2 * (p - 0.5) * math.sqrt(2 / alpha), rel=1e-9)
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)  # → the normal quantile
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.025, 10) == pytest.approx(-t_quantile(0.975, 10))  # symmetric


def test_t_cdf_inverts_the_quantile_and_the_beta_function_edges():
    for df in (1, 3, 12.5, 60):
        for p in (0.6, 0.9, 0.99):
            assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-10)
    assert t_cdf(0, 5) == 0.5 and t_cdf(math.inf, 5) == 1.0
    assert regularized_beta(2, 3, 0) == 0 and regularized_beta(2, 3, 1) == 1
    assert regularized_beta(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert regularized_beta(2, 1, 0.5) == pytest.approx(0.25)  # x²


@pytest.mark.parametrize(("p", "df"), [(0, 5), (1, 5), (0.5, 0), (1.2, 3)])
def test_t_quantile_refuses_nonsense(p, df):
    with pytest.raises(ValueError):
        t_quantile(p, df)


def test_mean_ci_hand_computed():
    ci = mean_ci([14, 16, 18])
    # mean 16, sd 2, se 2/√3 = 1.1547; t(0.975; 2) = 4.302653; half-width 4.9683
    assert (ci.n, ci.mean, ci.sd) == (3, 16.0, 2.0)
    assert ci.se == pytest.approx(1.154701, abs=1e-6)
    assert (ci.low, ci.high) == (pytest.approx(11.0317, abs=1e-4), pytest.approx(20.9683, abs=1e-4))
    ten = mean_ci([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    # mean 5.5, sd 3.02765, se 0.957427, t(0.975; 9) = 2.262157 → 5.5 ± 2.165851
    assert (ten.low, ten.high) == (pytest.approx(3.334149, abs=1e-5), pytest.approx(7.665851, abs=1e-5))


def test_mean_ci_small_and_missing():
    assert mean_ci([]).mean is None
    one = mean_ci([7])
    assert (one.n, one.mean, one.low, one.high) == (1, 7.0, None, None)
    assert mean_ci([3, None, float("nan"), 5]).n == 2
    assert mean_ci([2, 2, 2]).low == 2.0  # no spread: a zero-width interval
    with pytest.raises(ValueError):
        mean_ci([1, 2], level=95)
