# Gather every run's tables into study tables, then plot them for the report.


rule gather:
    input:
        runs="results/{study}/runs.csv",
        md=STUDY.md_markers(),
        analyses=STUDY.analysis_summaries(),
    output:
        summary="results/{study}/tables/summary.parquet",
        csv="results/{study}/tables/summary.csv",
    log:
        "logs/{study}/gather.log",
    params:
        root=lambda wc, output: os.path.dirname(os.path.dirname(output.summary)),
    resources:
        mem_mb=STUDY.config["resources"]["analysis_mem_mb"],
        runtime=30,
    conda:
        "../envs/hese.yaml"
    shell:
        "hese gather {params.root:q} > {log:q} 2>&1"


rule plots:
    input:
        "results/{study}/tables/summary.parquet",
    output:
        [report(f"results/{{study}}/plots/{name}.png", caption=f"../report/figures/{name}.rst", category="Plots",
                labels={"figure": name}) for name in STUDY.plots()],
        [f"results/{{study}}/plots/{name}.svg" for name in STUDY.plots()],
    log:
        "logs/{study}/plots.log",
    params:
        root=lambda wc, input: os.path.dirname(os.path.dirname(input[0])),
        figures=" ".join(STUDY.plots()),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/hese.yaml"
    shell:
        "hese plot {params.root:q} {params.figures} > {log:q} 2>&1"
