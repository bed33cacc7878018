# The run table and one packed box per run.


rule runs_table:
    output:
        "results/{study}/runs.csv",
    log:
        "logs/{study}/runs_table.log",
    params:
        config=STUDY.configfile,
    conda:
        "../envs/hese.yaml"
    shell:
        "hese runs {params.config:q} --csv {output:q} > {log:q} 2>&1"


rule build:
    output:
        "results/{study}/{run}/build/system.xml",
        "results/{study}/{run}/build/topology.pdb",
        "results/{study}/{run}/build/build.json",
    log:
        "logs/{study}/build/{run}.log",
    params:
        config=STUDY.configfile,
        out=lambda wc, output: os.path.dirname(output[0]),
        system=lambda wc: STUDY.runs[wc.run].system,  # not used in the command: a changed system rebuilds
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/hese.yaml"
    shell:
        "hese build --study {params.config:q} --run {wildcards.run:q} --out {params.out:q} > {log:q} 2>&1"
