# Shear viscosity by periodic perturbation, for systems with `viscosity_mpa_s: auto`: NVT from the end of
# production, settings from the study's viscosity: section; its η feeds the Yeh–Hummer correction of the
# run's diffusion coefficients. The output folder is swapped in whole when the run is done.


rule viscosity:
    input:
        "results/{study}/{run}/build/system.xml",
        "results/{study}/{run}/md/done.json",
    output:
        "results/{study}/{run}/viscosity/viscosity.json",
    log:
        "logs/{study}/viscosity/{run}.log",
    params:
        config=STUDY.configfile,
        build=lambda wc, input: os.path.dirname(input[0]),
        md=lambda wc, input: os.path.dirname(input[1]),
        out=lambda wc, output: os.path.dirname(output[0]),
        seed=lambda wc: STUDY.runs[wc.run].seed + 1,
        settings=STUDY.config["viscosity"],  # not used in the command: a change of these re-runs the stage
    threads: STUDY.config["resources"]["md_threads"]
    resources:
        gpu=1,
        mem_mb=STUDY.config["resources"]["md_mem_mb"],
        runtime=STUDY.config["resources"]["md_runtime_min"],
    conda:
        "../envs/hese.yaml"
    shell:
        "OPENMM_CPU_THREADS={threads} hese viscosity {params.build:q} --md {params.md:q} --out {params.out:q} "
        "--config {params.config:q} --seed {params.seed} > {log:q} 2>&1"
