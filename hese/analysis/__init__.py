"""Trajectory analyses: one module per observable, shared frame reader and neighbour search.

- :mod:`hese.analysis.frames`: streaming reader (chunks of frames in nm, boxes), reading XTC
  files directly (:mod:`hese.analysis.frame_readers`);
- :mod:`hese.analysis.centres` and :mod:`hese.analysis.unwrap`: molecule centres of mass,
  unwrapped frame to frame;
- :mod:`hese.analysis.threads`: the thread pool of the analyses that release the GIL;
- :mod:`hese.analysis.neighbors`: periodic neighbour search (k nearest, pairs within a cutoff,
  centre–point pairs of many frames at once);
- :mod:`hese.analysis.inputs`: what to analyse, from a hese run folder or foreign files;
- :mod:`hese.analysis.rdf`: cation–partner g(r), running coordination numbers, cutoffs;
- :mod:`hese.analysis.contacts`: the one pass that collects cation–partner contacts (and the RDFs);
- :mod:`hese.analysis.solvation`: coordination, speciation, shell entropy, ion pairing;
- :mod:`hese.analysis.clusters`: ion clusters and Cl-bridged Zn chains (sparse graphs);
- :mod:`hese.analysis.residence`: residence times of the partners in the shells, coordination per frame;
- :mod:`hese.analysis.transport`: MSD, self-diffusion, conductivity, from :mod:`hese.analysis.msd`,
  :mod:`hese.analysis.diffusion`, :mod:`hese.analysis.conductivity` and :mod:`hese.analysis.onsager`;
- :mod:`hese.analysis.water`: tetrahedral order, tetrahedral entropy, hydrogen bonds;
- :mod:`hese.analysis.columns` and :mod:`hese.analysis.tables`: the tables' columns and writer;
- :mod:`hese.analysis.cli`: the ``hese analyze`` sub-commands.
"""
