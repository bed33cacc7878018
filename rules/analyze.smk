# Analyses of one run (CPU only), one job per analysis of hese.analysis.registry that applies to its system.


rule analyze:
    input:
        lambda wc: STUDY.analysis_inputs(wc.analysis, wc.run),  # done.json first; transport: the run's viscosity
    output:
        "results/{study}/{run}/analysis/{analysis}/summary.json",
    log:
        "logs/{study}/analyze_{analysis}/{run}.log",
    params:
        run=lambda wc, input: os.path.dirname(os.path.dirname(input[0])),
        out=lambda wc, output: os.path.dirname(output[0]),
        options=lambda wc: STUDY.analysis_options(wc.analysis, wc.run),
    threads: lambda wc: STUDY.analysis_threads(wc.analysis)
    resources:
        mem_mb=STUDY.config["resources"]["analysis_mem_mb"],
        runtime=STUDY.config["resources"]["analysis_runtime_min"],
    conda:
        "../envs/hese.yaml"
    shell:
        "hese analyze {wildcards.analysis} --run {params.run:q} --out {params.out:q} {params.options} > {log:q} 2>&1"
