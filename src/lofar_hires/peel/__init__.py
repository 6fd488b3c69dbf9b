"""Peeling of bright sources (Noordam 2005): brightest first, each with its own direction-dependent solve.

:mod:`.plan` chooses the sources and their order and checks that each has the signal to noise
its solve needs.
"""
