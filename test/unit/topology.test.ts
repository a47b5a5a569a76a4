// The topology is worked out once (config/derive.ts). On both shipped stacks, the cluster label the
// verification jobs publish (their CLUSTER_NAME), the one the alert rules select, and the one the
// dashboard's restore-verification panels query must be the same: the primary's cluster. Before the
// topology had one home, the dr stack's dashboard filtered on its own cluster and stayed empty.
import { strict as assert } from "assert";
import { JOB_LABEL_VALUES, JOB_METRIC_LABELS, JOB_METRICS, LABELS, RESOURCE_TYPES } from "../../model/contract";
import { parseConfig, readStackConfig } from "../../config";
import { ProgramRun, runProgram } from "../support/program";

/** Every value of label `cluster` in selectors of the job metrics inside a PromQL expression. */
function verificationClusters(expr: string): string[] {
    const names = Object.values(JOB_METRICS).join("|");
    const found: string[] = [];
    for (const m of expr.matchAll(new RegExp(`(?:${names})\\{([^}]*)\\}`, "g"))) {
        const label = new RegExp(`${JOB_METRIC_LABELS.cluster}="([^"]+)"`).exec(m[1]);
        assert.ok(label, `selector without a cluster label: ${m[0]}`);
        found.push(label[1]);
    }
    return found;
}

for (const [stack, peers] of [
    ["primary", undefined],
    ["dr", undefined],
] as const) {
    describe(`one topology: the ${stack} stack verifies, alerts on and charts the same cluster`, () => {
        let run: ProgramRun;
        const c = parseConfig(readStackConfig(stack), stack);
        before(async () => {
            run = await runProgram(stack, {}, peers ? { peers } : {});
        });

        it("derives the primary's cluster as the one verified", () => {
            assert.equal(c.topology.verifiedCluster, c.topology.primary.cluster);
            assert.equal(c.topology.primary.cluster, stack === "primary" ? c.names.cluster : c.names.peerCluster);
        });

        it("labels the verification jobs' results with it", () => {
            const jobs = run.ofType(RESOURCE_TYPES.cronJob).filter((j) => j.inputs.metadata.labels[LABELS.job] === JOB_LABEL_VALUES.restoreVerification);
            assert.equal(jobs.length, 2);
            for (const job of jobs) {
                const env = job.inputs.spec.jobTemplate.spec.template.spec.containers[0].env as { name: string; value?: string }[];
                assert.equal(env.find((e) => e.name === "CLUSTER_NAME")?.value, c.topology.verifiedCluster, job.name);
            }
        });

        it("selects it in every alert rule on verification results", () => {
            const rules = run.one(RESOURCE_TYPES.prometheusRule).inputs.spec.groups.flatMap((g: any) => g.rules);
            const clusters = rules.flatMap((r: any) => verificationClusters(r.expr));
            assert.ok(clusters.length >= 3, `verification rules found: ${clusters.length}`);
            assert.deepEqual([...new Set(clusters)], [c.topology.verifiedCluster]);
        });

        it("queries it in every dashboard panel on verification results", () => {
            const map = run.ofType(RESOURCE_TYPES.configMap).find((m) => m.inputs.metadata.labels?.grafana_dashboard === "1");
            assert.ok(map, "no dashboard ConfigMap");
            const dashboard = JSON.parse(Object.values(map.inputs.data as Record<string, string>)[0]);
            const clusters = dashboard.panels.flatMap((p: any) => p.targets.flatMap((t: any) => (t.expr ? verificationClusters(t.expr) : [])));
            assert.ok(clusters.length >= 2, `verification panels found: ${clusters.length}`);
            assert.deepEqual([...new Set(clusters)], [c.topology.verifiedCluster]);
        });

        it("charts S3 replication where it runs: from this stack's own bucket and region (replication is static)", () => {
            const map = run.ofType(RESOURCE_TYPES.configMap).find((m) => m.inputs.metadata.labels?.grafana_dashboard === "1")!;
            const dashboard = JSON.parse(Object.values(map.inputs.data as Record<string, string>)[0]);
            const cloudwatch = dashboard.panels.flatMap((p: any) => p.targets).find((t: any) => t.metricName !== undefined);
            assert.equal(cloudwatch.region, c.region);
            assert.equal(cloudwatch.dimensions.SourceBucket, c.names.bucket);
            assert.equal(cloudwatch.dimensions.DestinationBucket, c.names.peerBucket);
        });
    });
}
