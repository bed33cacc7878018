# hese workflow: config → build → simulate → analyze → gather → plots → report.
#
#   snakemake -j 8                                                    # the default study, config/config.yaml
#   snakemake --configfile config/demo.yaml -j 2                      # another study, on this machine
#   snakemake --configfile config/he-dme.yaml --profile profiles/gpu-node   # one job per GPU
#   snakemake --configfile config/he-dme.yaml --profile profiles/slurm      # a SLURM cluster
#   snakemake --configfile config/demo.yaml --report report.html
#
# Paths (hese/workflow.py): results/<study>/<run>/{build,md,analysis/<analysis>}/,
# results/<study>/tables/, results/<study>/plots/; logs in logs/<study>/<rule>/<run>.log.

import os

from snakemake.utils import min_version, validate

from hese.workflow import Study, analysis_pattern, check_config

min_version("9.0")

if not workflow.configfiles:  # the catalog convention: config/config.yaml is the default study

    configfile: "config/config.yaml"


CONFIGFILE = workflow.configfiles[-1]
CHECKED = check_config(config, CONFIGFILE)  # hese's check: one clear line naming the key, defaults filled
validate(config, "hese/schemas/study.schema.yaml")  # Snakemake's schema check of the same file
STUDY = Study.from_config(CHECKED, CONFIGFILE)
# logs: logs/<study>/<rule>/<run>.log

wildcard_constraints:
    study=STUDY.name,
    run="[^/]+",
    analysis=analysis_pattern(),  # the analyses of hese.analysis.registry

report: "report/workflow.rst"

localrules: all, runs_table  # seconds of work: not worth a trip through a cluster's queue


rule all:
    input:
        STUDY.targets(),
    default_target: True


include: "rules/build.smk"
include: "rules/simulate.smk"
include: "rules/viscosity.smk"
include: "rules/analyze.smk"
include: "rules/report.smk"
