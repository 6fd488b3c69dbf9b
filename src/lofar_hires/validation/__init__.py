"""Validation: pipeline products measured against the simulator's ground truth.

This package is the only one besides :mod:`lofar_hires.simulation` itself (and the
``simulate`` command) that may import the simulator; nothing on the pipeline path
does (``tests/test_layering.py``). Tests, the demo summary and benchmarks use it.

* :mod:`lofar_hires.validation.di`: calibrator solutions (clock, TEC, X-Y delay,
  rotation measure, bandpass) against the injected corruptions;
* :mod:`lofar_hires.validation.selfcal`: self-calibration phases and amplitudes
  against the injected phase towards each direction.
"""
