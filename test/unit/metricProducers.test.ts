// The contract between what the stack reads and what produces it: every metric that a declared
// alert rule (the PrometheusRule's input) or a dashboard panel (the dashboard ConfigMap's input)
// reads has a producer the stack declares or the README requires, and every label it matches on,
// groups by or joins on is one that producer's series carry. Producers:
// - the PodMonitor on the cluster's instances: CloudNativePG's default queries
//   (vendor/cnpg-monitoring/default-monitoring.yaml, named as cnpgQueries.ts reads them), the
//   instance manager's own cnpg_collector_* metrics, and the Barman Cloud plugin's metrics;
// - kube-state-metrics (README: must run in the cluster);
// - the jobs' publisher (JOB_METRICS, pushed to the Pushgateway the stack deploys or is given);
// - CloudWatch (S3 replication metrics, reported per replication rule once metrics are enabled).
import { strict as assert } from "assert";
import { INSTANCE_MANAGER_EMULATION, readCnpgQueries, CNPG_METRIC_PREFIX } from "../../drill/monitoring/cnpgQueries";
import { metricNamesIn, parsePromql } from "../../drill/monitoring/rules";
import { clusterObjectNames, EXTERNAL_METRICS, JOB_METRIC_LABELS, JOB_METRICS, RESOURCE_TYPES as T } from "../../model/contract";
import { ProgramRun, RunOptions, runProgram } from "../support/program";

/** Labels Prometheus adds to every series of a PodMonitor target (prometheus-operator's relabelling). */
const POD_TARGET_LABELS = ["namespace", "pod", "container", "endpoint", "job", "instance"];

interface Producer {
    name: string;
    /** Metric name -> the label names its series carry. */
    metrics: Map<string, Set<string>>;
}

function producer(name: string, entries: [string, string[]][]): Producer {
    return { name, metrics: new Map(entries.map(([metric, labels]) => [metric, new Set(labels)])) };
}

/** CloudNativePG's default queries: `cnpg_<name>_<column>` with the query's LABEL columns. */
function cnpgQueryMetrics(): [string, string[]][] {
    const out: [string, string[]][] = [];
    const add = (prefix: string, mappings: Record<string, { usage: string }>[]) => {
        const labels = mappings.flatMap((m) => Object.entries(m).filter(([, c]) => c.usage === "LABEL").map(([column]) => column));
        for (const m of mappings) {
            for (const [column, c] of Object.entries(m)) {
                if (c.usage !== "LABEL" && c.usage !== "DISCARD") out.push([`${prefix}_${column}`, [...labels, ...POD_TARGET_LABELS]]);
            }
        }
    };
    for (const [key, q] of Object.entries(readCnpgQueries())) add(`${CNPG_METRIC_PREFIX}_${q.name ?? key}`, q.metrics);
    // The instance manager's built-ins (cnpgQueries.ts emulates exactly these for the drill).
    for (const [key, q] of Object.entries(INSTANCE_MANAGER_EMULATION)) add(key, q.metrics.map((m) => m as Record<string, { usage: string }>));
    return out;
}

/** The Barman Cloud plugin's metrics, through the instance manager's exporter (plugin web/docs/observability.md). */
const BARMAN_CLOUD_PLUGIN_METRICS = [
    "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
    "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
    "barman_cloud_cloudnative_pg_io_first_recoverability_point",
];

/** kube-state-metrics' CronJob and Job metrics (docs/metrics/workload/cronjob-metrics.md, job-metrics.md). */
const KUBE_STATE_METRICS: [string, string[]][] = [
    ["kube_cronjob_status_last_successful_time", ["namespace", "cronjob"]],
    ["kube_cronjob_status_last_schedule_time", ["namespace", "cronjob"]],
    ["kube_cronjob_status_active", ["namespace", "cronjob"]],
    ["kube_cronjob_next_schedule_time", ["namespace", "cronjob"]],
    ["kube_job_status_failed", ["namespace", "job_name", "reason"]],
    ["kube_job_status_succeeded", ["namespace", "job_name"]],
    ["kube_job_status_active", ["namespace", "job_name"]],
    ["kube_job_status_start_time", ["namespace", "job_name"]],
    ["kube_job_owner", ["namespace", "job_name", "owner_kind", "owner_name", "owner_is_controller"]],
];

/** The producers this run declares (plus kube-state-metrics, which the README requires). */
function producersOf(run: ProgramRun, cluster: string): Producer[] {
    const producers: Producer[] = [producer("kube-state-metrics (README requirement)", KUBE_STATE_METRICS)];
    const monitors = run.ofType(T.podMonitor).map((m) => m.inputs);
    if (monitors.some((m) => m.spec.selector.matchLabels["cnpg.io/cluster"] === cluster)) {
        producers.push(producer(`PodMonitor ${clusterObjectNames(cluster).podMonitor}`, [...cnpgQueryMetrics(), ...BARMAN_CLOUD_PLUGIN_METRICS.map((m): [string, string[]] => [m, POD_TARGET_LABELS])]));
    }
    const jobs = run.ofType(T.cronJob).map((j) => j.inputs.spec.jobTemplate.spec.template.spec.containers[0].env);
    if (jobs.length > 0 && jobs.every((env: any[]) => env.some((e) => e.name === "PUSHGATEWAY_URL" && e.value))) {
        // Pushed under job/<job>/cluster/<cluster>; honorLabels keeps them (scripts/README.md).
        const labels = [JOB_METRIC_LABELS.cluster, JOB_METRIC_LABELS.kind, "job", "instance"];
        producers.push(producer("the jobs' Pushgateway", Object.values(JOB_METRICS).map((m): [string, string[]] => [m, labels])));
    }
    return producers;
}

/** Each vector selector of an expression with the label names it matches, plus the on()/by() labels. */
function selectorsIn(expr: string): { metric: string; labels: string[] }[] {
    const selectors: { metric: string; labels: string[] }[] = [];
    const grouping: string[] = [];
    const walk = (node: ReturnType<typeof parsePromql>): void => {
        if (node.name === "VectorSelector") {
            const id = node.getChild("Identifier")!;
            const labels: string[] = [];
            const collect = (n: ReturnType<typeof parsePromql>): void => {
                if (n.name === "LabelName") labels.push(expr.slice(n.from, n.to));
                for (let c = n.firstChild; c; c = c.nextSibling) collect(c);
            };
            collect(node);
            selectors.push({ metric: expr.slice(id.from, id.to), labels });
            return;
        }
        if (node.name === "GroupingLabels") {
            for (let c = node.firstChild; c; c = c.nextSibling) if (c.name === "LabelName") grouping.push(expr.slice(c.from, c.to));
            return;
        }
        for (let c = node.firstChild; c; c = c.nextSibling) walk(c);
    };
    walk(parsePromql(expr));
    // A join or aggregation label must be on every series of the expression.
    return selectors.map((s) => ({ ...s, labels: [...new Set([...s.labels, ...grouping])] }));
}

/** Problems of one expression against the producers: a metric nobody produces, or a label it does not carry. */
function unproduced(where: string, expr: string, producers: Producer[]): string[] {
    // The walker above sees exactly the selectors the drill's PromQL helper finds.
    assert.deepEqual([...new Set(selectorsIn(expr).map((s) => s.metric))].sort(), metricNamesIn(expr), expr);
    return selectorsIn(expr).flatMap(({ metric, labels }) => {
        const by = producers.find((p) => p.metrics.has(metric));
        if (!by) return [`${where}: ${metric} has no producer`];
        const missing = labels.filter((l) => !by.metrics.get(metric)!.has(l));
        return missing.length ? [`${where}: ${metric} from ${by.name} carries no label ${missing.join(", ")}`] : [];
    });
}

interface CloudWatchTarget {
    namespace: string;
    metricName: string;
    dimensions: Record<string, unknown>;
}

/**
 * S3 replication metrics: reported per rule once the rule enables metrics (S3 docs, replication-metrics.html),
 * by the stack that owns the source bucket: this one, or its peer (the dr stack's panel watches the primary's).
 */
function cloudWatchProblems(runs: ProgramRun[], where: string, target: CloudWatchTarget): string[] {
    const s3Metrics = [EXTERNAL_METRICS.s3ReplicationLatency, EXTERNAL_METRICS.s3OperationsFailedReplication];
    if (target.namespace !== "AWS/S3" || !s3Metrics.includes(target.metricName as never)) return [`${where}: CloudWatch ${target.namespace} ${target.metricName} has no producer`];
    const owner = runs.find((r) => r.ofType(T.bucket).some((b) => b.inputs.bucket === target.dimensions.SourceBucket));
    const replicated = owner?.ofType(T.bucketReplication).some((r) => r.inputs.rules.some((rule: any) => rule.destination?.metrics?.status === "Enabled"));
    if (!replicated) return [`${where}: ${target.metricName} of ${target.dimensions.SourceBucket} needs a replication rule with metrics enabled there, and no stack declares one`];
    const unknown = Object.keys(target.dimensions).filter((d) => !["SourceBucket", "DestinationBucket", "RuleId"].includes(d));
    return unknown.length ? [`${where}: ${target.metricName} has no dimension ${unknown.join(", ")}`] : [];
}

function contractProblems(run: ProgramRun, cluster: string, extraRules: { alert: string; expr: string }[] = [], peer?: ProgramRun): string[] {
    const producers = producersOf(run, cluster);
    const rules = run.one(T.prometheusRule).inputs.spec.groups.flatMap((g: any) => g.rules) as { alert: string; expr: string }[];
    const problems = [...rules, ...extraRules].flatMap((r) => unproduced(`alert ${r.alert}`, r.expr, producers));
    const dashboards = run.ofType(T.configMap).filter((c) => c.inputs.metadata.name === clusterObjectNames(cluster).dashboardConfigMap);
    for (const d of dashboards) {
        for (const json of Object.values(d.inputs.data) as string[]) {
            for (const panel of JSON.parse(json).panels) {
                for (const target of panel.targets) {
                    const where = `panel "${panel.title}"`;
                    if (panel.datasource?.type === "cloudwatch") problems.push(...cloudWatchProblems(peer ? [run, peer] : [run], where, target));
                    else problems.push(...unproduced(where, target.expr, producers));
                }
            }
        }
    }
    return problems;
}

describe("every metric the rules and the dashboard read has a declared producer, with the labels they match", () => {
    const variants: [string, string, string, RunOptions?][] = [
        ["primary as shipped", "primary", "pg-acme-orders-use1"],
        ["dr as shipped", "dr", "pg-acme-orders-usw2", {}],
    ];
    for (const [title, stack, cluster, options] of variants) {
        it(title, async () => {
            const run = await runProgram(stack, {}, options);
            assert.ok(run.ofType(T.prometheusRule).length === 1 && run.one(T.prometheusRule).inputs.spec.groups.length > 0);
            // The peer stack as shipped declares what this stack's dashboard may read from the peer region.
            const peer = stack === "dr" ? await runProgram("primary") : await runProgram("dr", {});
            assert.deepEqual(contractProblems(run, cluster, [], peer), []);
        });
    }

    it("fails on a rule reading a metric nobody produces, a label its producer lacks, or a metric whose producer is gone", async () => {
        const run = await runProgram("primary");
        const cluster = "pg-acme-orders-use1";
        assert.deepEqual(
            contractProblems(run, cluster, [
                { alert: "Planted", expr: "cnpg_pg_stat_archiver_seconds_since_last_archivl > 60" },
                { alert: "PlantedLabel", expr: `${JOB_METRICS.verificationSuccess}{database="app"} == 0` },
            ]),
            [
                "alert Planted: cnpg_pg_stat_archiver_seconds_since_last_archivl has no producer",
                `alert PlantedLabel: ${JOB_METRICS.verificationSuccess} from the jobs' Pushgateway carries no label database`,
            ],
        );
        // Without the PodMonitor, every cnpg_* and barman_cloud_* read is unproduced.
        const noMonitor = { ...run, ofType: (t: string) => (t === T.podMonitor ? [] : run.ofType(t)) } as ProgramRun;
        const problems = contractProblems(noMonitor, cluster);
        assert.ok(problems.some((p) => p.startsWith("alert DrWalArchiveStale: cnpg_")), problems.join("\n"));
        assert.ok(problems.some((p) => p.includes("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp has no producer")), problems.join("\n"));
        // The replication panel reads this stack's own replication metrics: without its rules, no producer.
        const noReplication = { ...run, ofType: (t: string) => (t === T.bucketReplication ? [] : run.ofType(t)) } as ProgramRun;
        assert.match(contractProblems(noReplication, cluster).join("\n"), /ReplicationLatency of backups-acme-orders-us-east-1 needs a replication rule with metrics enabled/);
    });
});
