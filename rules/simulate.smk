# OpenMM: minimise, heat, NPT equilibration to a converged density, production (one GPU per job).
# A rerun after an interruption resumes from the checkpoints in md/restart/ (not an output, so Snakemake
# keeps it); done.json is written last.


rule simulate:
    input:
        "results/{study}/{run}/build/system.xml",
        "results/{study}/{run}/build/topology.pdb",
        "results/{study}/{run}/build/build.json",
    output:
        "results/{study}/{run}/md/trajectory.xtc",
        "results/{study}/{run}/md/thermo.parquet",
        "results/{study}/{run}/md/equilibration.json",
        "results/{study}/{run}/md/final_state.xml",
        "results/{study}/{run}/md/done.json",
    log:
        "logs/{study}/simulate/{run}.log",
    params:
        config=STUDY.configfile,
        build=lambda wc, input: os.path.dirname(input[0]),
        out=lambda wc, output: os.path.dirname(output[0]),
        temperature_k=lambda wc: STUDY.temperature_k(wc.run),
        seed=lambda wc: STUDY.runs[wc.run].seed + 1,  # replica r: seed r + 1 (0 is not a valid OpenMM seed)
        settings=STUDY.md_physics(),  # not used in the command: a change of these re-runs MD (runtime ones never do)
    threads: STUDY.config["resources"]["md_threads"]
    resources:
        gpu=1,
        mem_mb=STUDY.config["resources"]["md_mem_mb"],
        runtime=STUDY.config["resources"]["md_runtime_min"],
    conda:
        "../envs/hese.yaml"
    shell:
        "OPENMM_CPU_THREADS={threads} hese simulate {params.build:q} --out {params.out:q} --config {params.config:q} "
        "--temperature-k {params.temperature_k} --seed {params.seed} > {log:q} 2>&1"
