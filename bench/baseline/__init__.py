"""Frozen copies of code that a change replaced, kept only to be timed beside its successor.

``analysis_v0`` and ``build_v0`` are the closed-form walk and the hand-written torch
builder from before the parts registry (issue 10); ``bench/bench_registry.py`` runs
them side by side with today's ``analyse`` and ``build`` and prints the ratios.
They are not used by the product and are not kept in step with it.
"""
