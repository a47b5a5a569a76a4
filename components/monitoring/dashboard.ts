// The Grafana dashboard of one region, as a pure function of the config: the RPO-derived
// thresholds are drawn on the panels, so a reader sees the target next to the measurement.
// Restore-verification panels filter on the cluster the region's jobs verify (the primary's,
// config.topology.verifiedCluster), which is the label the jobs publish, on both stacks.
// Datasources are chosen through dashboard variables of type "datasource" (Grafana's convention for
// shareable dashboards: panels refer to `${var}` as the uid, the variable lists the datasources of
// that plugin type), so no installation-specific uid is baked in.

import { DrConfig } from "../../config";
import { EXTERNAL_METRICS as M, JOB_METRICS as J, JOB_METRIC_LABELS } from "../../model/contract";
import { replicationRuleId } from "../../model/replicationScope";

/** The dashboard variables that pick the datasources; panels use `${name}` as their uid. */
export const DATASOURCE_VARIABLES = { prometheus: "prometheus", cloudwatch: "cloudwatch" } as const;
const datasource = (type: keyof typeof DATASOURCE_VARIABLES) => ({ type, uid: `\${${DATASOURCE_VARIABLES[type]}}` });

interface Panel {
    title: string;
    expr: string;
    unit: string;
    /** Red above this value (seconds). */
    threshold?: number;
    datasource?: { type: string; uid: string };
    /** CloudWatch query, for panels that read AWS metrics. */
    cloudwatch?: Record<string, unknown>;
}

export function dashboardFor(c: DrConfig): Record<string, unknown> {
    const pods = `namespace="${c.kubernetes.namespace}", pod=~"${c.names.cluster}-[0-9]+"`;
    const verified = `${JOB_METRIC_LABELS.cluster}="${c.topology.verifiedCluster}"`;
    const replication = c.topology.replicationSource;
    const panels: Panel[] = [
        {
            title: `WAL archive age (limit ${c.alerts.walArchiveAgeSeconds}s from RPO)`,
            expr: `max(${M.archiveAge}{${pods}})`,
            unit: "s",
            threshold: c.alerts.walArchiveAgeSeconds,
        },
        {
            title: "WAL archive failures (last hour)",
            expr: `sum(increase(${M.archiveFailedCount}{${pods}}[1h]))`,
            unit: "short",
            threshold: 1,
        },
        {
            title: "Base backup age",
            expr: `time() - max(${M.lastAvailableBackup}{${pods}})`,
            unit: "s",
            threshold: c.alerts.baseBackupMaxAgeSeconds,
        },
        {
            title: "Replication lag (region RPO)",
            expr: `max(${M.replicationLag}{${pods}})`,
            unit: "s",
            threshold: c.alerts.replicaLagSeconds,
        },
        {
            title: "Restore verification (1 = passed)",
            expr: `${J.verificationSuccess}{${verified}}`,
            unit: "short",
        },
        {
            title: "Time since last verified restore",
            expr: `time() - ${J.verificationLastSuccess}{${verified}}`,
            unit: "s",
            threshold: c.alerts.verificationMaxAgeSeconds,
        },
        {
            title: "S3 replication latency (RTC bound 15 min)",
            expr: "",
            unit: "s",
            threshold: c.alerts.replicationLatencySeconds,
            datasource: datasource("cloudwatch"),
            // S3 reports replication metrics per source bucket, destination bucket and rule
            // (docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html); the alarms in
            // drAlerts.ts use the same three dimensions.
            cloudwatch: {
                namespace: "AWS/S3",
                metricName: M.s3ReplicationLatency,
                region: replication.region,
                dimensions: { SourceBucket: replication.bucket, DestinationBucket: c.names.peerBucket, RuleId: replicationRuleId("archive", c.peerRegion) },
                matchExact: true,
                statistic: "Maximum",
                queryMode: "Metrics",
                metricQueryType: 0,
            },
        },
    ];
    return {
        title: `DR: ${c.names.cluster} (${c.role}, ${c.region})`,
        uid: `drstack-${c.names.cluster}`,
        tags: ["drstack", "disaster-recovery", c.role],
        timezone: "utc",
        schemaVersion: 39,
        time: { from: "now-24h", to: "now" },
        templating: {
            list: (Object.keys(DATASOURCE_VARIABLES) as (keyof typeof DATASOURCE_VARIABLES)[]).map((type) => ({
                name: DATASOURCE_VARIABLES[type],
                type: "datasource",
                query: type,
                label: `${type} datasource`,
            })),
        },
        panels: panels.map((p, i) => ({
            id: i + 1,
            type: "timeseries",
            title: p.title,
            gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
            datasource: p.datasource ?? datasource("prometheus"),
            targets: [p.cloudwatch ? { refId: "A", ...p.cloudwatch } : { refId: "A", expr: p.expr }],
            fieldConfig: {
                defaults: {
                    unit: p.unit,
                    thresholds:
                        p.threshold === undefined
                            ? undefined
                            : { mode: "absolute", steps: [{ color: "green", value: null }, { color: "red", value: p.threshold }] },
                },
            },
        })),
    };
}
