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


rule plot:
    input:
        "results/{study}/tables/summary.parquet",
    output:
        png=report("results/{study}/plots/{plot}.png", caption="../report/plot.rst", category="Plots",
                   labels={"figure": "{plot}"}),
        svg="results/{study}/plots/{plot}.svg",
    log:
        "logs/{study}/plot/{plot}.log",
    params:
        root=lambda wc, output: os.path.dirname(os.path.dirname(output.png)),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/hese.yaml"
    shell:
        "hese plot {params.root:q} {wildcards.plot} > {log:q} 2>&1"
