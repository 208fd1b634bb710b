"""Automated red-teaming: an attacker model rewrites each seed case by strategy, the target
answers, and the judge (or the case's own scorer) says whether the attack broke it.

`strategies` holds the attacker prompts and the reply parser, `runner` the scheduler (every
request through the engine's limiter, retries and failure table; every result stored the
moment it finishes), `analysis` the figures (pure), `regression` the suite files written from
successful attacks. The SQL is in tuieval.store.redteam.
"""
