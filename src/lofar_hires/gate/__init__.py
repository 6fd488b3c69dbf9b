"""The calibratability gate: is an observation worth calibrating (de Jong et al. 2025, section 6.7.2.1)?

After the delay calibration every observation is scored on three metrics, each from data the
chain already has, and stopped early when one of them is outside its limit:

* :mod:`.phasediff`: the phasediff score of the in-field calibrator on the longest baselines,
  measured by :mod:`lofar_hires.selection` and judged against its noise level;
* :mod:`.flags`: the fraction of flagged visibilities (FLAG streamed in chunks);
* :mod:`.ionosphere`: the rms rate of change of the differential TEC of the direction-independent
  solutions (TECU per minute).

:mod:`.verdict` turns the metrics into sub-scores, a pass or fail and the reasons in words;
:mod:`.run` checks the inputs, measures every observation and writes the result.
"""
