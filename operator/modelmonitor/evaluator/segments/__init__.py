"""Segments: metrics and drift per slice of the rows (``spec.segments``), and weak slices found automatically.

``keys`` maps rows to segments, ``declared`` keeps one mergeable accumulator per declared segment,
``discovery`` tests every slice against the same slice of the reference, ``pipeline`` plugs both into a run
and ``conclude`` turns them into the result's ``segments`` section, violations and checks.
"""
