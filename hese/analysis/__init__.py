"""Trajectory analyses: one module per observable, shared frame reader and neighbour search.

- :mod:`hese.analysis.frames`: streaming reader (chunks of frames in nm, boxes, molecule
  centres of mass, frame-to-frame unwrapping);
- :mod:`hese.analysis.neighbors`: periodic neighbour search (k nearest, pairs within a cutoff);
- :mod:`hese.analysis.inputs`: what to analyse, from a hese run folder or foreign files;
- :mod:`hese.analysis.transport`: MSD, self-diffusion, conductivity;
- :mod:`hese.analysis.water`: tetrahedral order, tetrahedral entropy, hydrogen bonds;
- :mod:`hese.analysis.columns` and :mod:`hese.analysis.tables`: the tables' columns and writer;
- :mod:`hese.analysis.cli`: the ``hese analyze`` sub-commands.
"""
