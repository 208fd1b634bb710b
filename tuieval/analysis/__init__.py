"""Statistics for tuieval runs: numpy and the standard library only (see docs/statistics.md).

stats     proportions, pass@k, standard errors, resampling, multiple testing, exact tests
latency   nearest-rank percentiles with censored timeouts, accuracy within an SLO
variance  canonical answers, clustering tiers, semantic entropy, consistency
slices    derived slice features and automatic slice discovery
live      incremental scoreboard with anytime-valid decisions
report    the tuieval.report/1 structure and per-sample cluster assignments
"""
