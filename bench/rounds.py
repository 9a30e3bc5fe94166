"""Figures from bench/proxy's results rows, each for one (proxy, scenario) pair.

The rounds interleave the runs compared (veil with nginx, a filter on with off), so each pair was
measured under the same conditions: the machine's speed drifts between rounds more than between
the two runs of one round.
"""

import statistics


def median_of(rows, key, field):
    """The median of field over the rounds that measured key; None when none did."""
    values = [float(r[field]) for r in rows if (r["proxy"], r["scenario"]) == key]
    return statistics.median(values) if values else None


def ratios_by_round(rows, first, second, field):
    """first / second (each a (proxy, scenario) pair) in every round that measured both."""
    def by_round(key):
        return {r["round"]: float(r[field]) for r in rows if (r["proxy"], r["scenario"]) == key}
    a, b = by_round(first), by_round(second)
    return [a[number] / b[number] for number in sorted(a) if number in b and b[number] > 0]
