"""The run report: one self-contained HTML page of a ``lofar-hires run`` directory.

* :mod:`~lofar_hires.report.manifest`: the run manifest ``run.json``, read and checked;
* :mod:`~lofar_hires.report.figures`: PNG checks and data URIs, FITS images rendered to PNG within a
  bounded size;
* :mod:`~lofar_hires.report.html`: escaping and the small HTML building blocks;
* :mod:`~lofar_hires.report.sections`: the sections of the page, each from its part of the run tree;
* :mod:`~lofar_hires.report.build`: the page written atomically, with its provenance record.
"""
