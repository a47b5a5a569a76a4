// Route53 failover routing and DR alerting, as both stacks declare them.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { alertRuleGroups, runbookAnchor } from "../../components/monitoring/alertRules";
import { parseConfig, readStackConfig } from "../../config";
import { ProgramRun, runProgram } from "../support/program";
import { PROMOTE_DR } from "../support/promotion";
import { testTimeout } from "../support/timeouts";

const T = {
    healthCheck: "aws:route53/healthCheck:HealthCheck",
    record: "aws:route53/record:Record",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    topic: "aws:sns/topic:Topic",
    subscription: "aws:sns/topicSubscription:TopicSubscription",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    configMap: "kubernetes:core/v1:ConfigMap",
    replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
};

function alarm(run: ProgramRun, metricName: string) {
    const found = run.ofType(T.alarm).filter((a) => a.inputs.metricName === metricName);
    assert.equal(found.length, 1, `alarms on ${metricName}: ${found.length}`);
    return found[0].inputs;
}

function rules(run: ProgramRun) {
    return run.one(T.rule).inputs.spec.groups.flatMap((g: any) => g.rules);
}

for (const [stack, region, failover, peers] of [
    ["primary", "us-east-1", "PRIMARY", undefined],
    ["dr", "us-west-2", "SECONDARY", undefined],
] as const) {
    describe(`failover routing and alerting (${stack} stack)`, () => {
        let run: ProgramRun;
        /** The endpoint health check (the home stack also declares its fence and calculated checks: test/unit/fencing.test.ts). */
        const endpointCheck = () => {
            const found = run.ofType(T.healthCheck).filter((h) => h.inputs.fqdn !== undefined);
            assert.equal(found.length, 1);
            return found[0];
        };
        before(async () => {
            run = await runProgram(stack, {}, peers ? { peers } : {});
        });

        it("health-checks the region's endpoint over HTTPS with the configured path, interval and checkers", () => {
            const hc = endpointCheck().inputs;
            assert.equal(hc.type, "HTTPS");
            assert.equal(hc.fqdn, `db-api.${stack === "primary" ? "use1" : "usw2"}.acme.example.com`);
            assert.equal(hc.resourcePath, "/healthz");
            assert.equal(hc.port, 443);
            assert.equal(hc.requestInterval, 10);
            assert.equal(hc.failureThreshold, 3);
            assert.deepEqual(hc.regions, ["us-east-1", "us-west-2", "eu-west-1"]);
            assert.equal(hc.enableSni, true);
        });

        it(`declares its half of the failover pair as ${failover}, guarded by the health check`, () => {
            const record = run.one(T.record);
            assert.equal(record.inputs.name, "db-api.acme.example.com");
            assert.equal(record.inputs.zoneId, "Z0123456789EXAMPLEZONE");
            assert.deepEqual(record.inputs.failoverRoutingPolicies, [{ type: failover }]);
            assert.equal(record.inputs.setIdentifier, `acme-orders-${region}`);
            const guard = stack === "primary" ? run.ofType(T.healthCheck).find((h) => h.inputs.type === "CALCULATED")! : endpointCheck();
            assert.equal(record.inputs.healthCheckId, `${guard.name}-id`);
            assert.equal(record.inputs.type, "CNAME");
            assert.deepEqual(record.inputs.records, [endpointCheck().inputs.fqdn]);
            assert.equal(record.inputs.ttl, 60);
        });

        it("alarms on HealthCheckStatus in us-east-1 (where Route53 publishes it), notifying a us-east-1 topic", () => {
            const a = alarm(run, "HealthCheckStatus");
            assert.equal(a.region, "us-east-1");
            assert.equal(a.namespace, "AWS/Route53");
            assert.deepEqual(a.dimensions, { HealthCheckId: `${endpointCheck().name}-id` });
            assert.equal(a.comparisonOperator, "LessThanThreshold");
            assert.equal(a.threshold, 1);
            assert.match(a.alarmActions[0], /^arn:aws:sns:us-east-1:/);
        });

        it("notifies the configured subscribers", () => {
            const subscriptions = run.ofType(T.subscription).map((s) => s.inputs);
            assert.ok(subscriptions.length >= 1);
            assert.ok(subscriptions.every((s) => s.protocol === "email" && s.endpoint === "oncall@acme.example.com"));
            const topicRegions = run.ofType(T.topic).map((t) => t.inputs.region).sort();
            assert.deepEqual(topicRegions, region === "us-east-1" ? ["us-east-1"] : ["us-east-1", "us-west-2"]);
            assert.equal(subscriptions.length, topicRegions.length, "one subscription per topic per subscriber");
        });

        it("declares the PrometheusRule generated from the stack config, with the operator's selector labels", () => {
            const rule = run.one(T.rule).inputs;
            assert.deepEqual(rule.metadata.labels, { release: "kube-prometheus-stack" });
            assert.deepEqual(rule.spec, alertRuleGroups(parseConfig(readStackConfig(stack), stack)));
        });

        it("every rule carries severity, summary, description and a runbook_url into the README", () => {
            for (const r of rules(run)) {
                assert.match(r.labels.severity, /^(critical|warning)$/, r.alert);
                assert.ok(r.annotations.summary && r.annotations.description, r.alert);
                assert.equal(r.annotations.runbook_url, `https://github.com/acme/drstack/blob/main/README.md#${runbookAnchor(r.alert)}`);
            }
        });

        it("ships a Grafana dashboard ConfigMap for the sidecar", () => {
            const cm = run.byName("acme-orders-alerts-dashboard").inputs;
            assert.equal(cm.metadata.labels.grafana_dashboard, "1");
            const dashboard = JSON.parse(Object.values(cm.data)[0] as string);
            const titles = dashboard.panels.map((p: any) => p.title).join(" | ");
            for (const expected of ["WAL archive age", "Base backup age", "Replication lag", "Restore verification", "S3 replication latency"]) {
                assert.ok(titles.includes(expected), `${expected} not in ${titles}`);
            }
            // Every panel names its datasource through a dashboard variable of the panel's plugin type.
            const variables = new Map(dashboard.templating.list.map((v: any) => [`\${${v.name}}`, v]));
            for (const panel of dashboard.panels) {
                const variable: any = variables.get(panel.datasource.uid);
                assert.ok(variable, `panel ${panel.title}: datasource uid ${panel.datasource.uid} is no dashboard variable`);
                assert.deepEqual([variable.type, variable.query], ["datasource", panel.datasource.type], panel.title);
            }
        });

        it("filters the CloudWatch panel on the dimensions this stack's own replication alarms use", async () => {
            const cm = run.byName("acme-orders-alerts-dashboard").inputs;
            const panel = JSON.parse(Object.values(cm.data)[0] as string).panels.find((p: any) => p.datasource.type === "cloudwatch");
            const latency = alarm(run, "ReplicationLatency");
            assert.deepEqual(panel.targets[0].dimensions, latency.dimensions);
            assert.equal(panel.targets[0].matchExact, true);
        });
    });
}

describe("alerting follows the role and the RPO", () => {
    it("each stack alarms on its own S3 replication, on the WAL and base backup rule, whatever its role", async () => {
        const primary = await runProgram("primary");
        const latency = alarm(primary, "ReplicationLatency");
        const ruleId = primary.one(T.replication).inputs.rules[0].id;
        assert.deepEqual(latency.dimensions, {
            SourceBucket: "backups-acme-orders-us-east-1",
            DestinationBucket: "backups-acme-orders-us-west-2",
            RuleId: ruleId,
        });
        assert.equal(latency.threshold, 900);
        assert.equal(latency.comparisonOperator, "GreaterThanThreshold");
        const failed = alarm(primary, "OperationsFailedReplication");
        assert.equal(failed.threshold, 0);
        assert.equal(failed.statistic, "Sum");
        assert.match(latency.alarmActions[0], /^arn:aws:sns:us-east-1:/);

        const dr = await runProgram("dr", {});
        assert.deepEqual(alarm(dr, "ReplicationLatency").dimensions, {
            SourceBucket: "backups-acme-orders-us-west-2",
            DestinationBucket: "backups-acme-orders-us-east-1",
            RuleId: dr.one(T.replication).inputs.rules[0].id,
        });
        assert.equal(dr.one(T.replication).inputs.rules[0].filter.prefix, "pg-acme-orders-usw2/");
    });

    it("promoting the DR stack keeps its failover record SECONDARY (static; the fence decides) and alarms its replication", async () => {
        const run = await runProgram("dr", PROMOTE_DR, { peers: { "acme/drstack/primary": { role: "standby", backupBucket: "backups-acme-orders-us-east-1" } } });
        assert.deepEqual(run.one(T.record).inputs.failoverRoutingPolicies, [{ type: "SECONDARY" }]);
        assert.equal(alarm(run, "ReplicationLatency").dimensions.DestinationBucket, "backups-acme-orders-us-east-1");
        assert.ok(rules(run).every((r: any) => r.labels.role === "primary"));
        assert.ok(!rules(run).some((r: any) => r.alert === "DrReplicaLagAboveRpo"), "a primary has no replica-cluster lag rule");
    });

    it("demoting the primary stack keeps its record PRIMARY (static) and adds the standby rules", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby" });
        assert.deepEqual(run.one(T.record).inputs.failoverRoutingPolicies, [{ type: "PRIMARY" }]);
        assert.ok(rules(run).some((r: any) => r.alert === "DrReplicaLagAboveRpo"));
    });

    it("thresholds move when the RPO moves", async () => {
        const run = await runProgram("dr", { "drstack:rpo.data-corruption": "10m", "drstack:rpo.region": "15m" });
        const stale = rules(run).find((r: any) => r.alert === "DrWalArchiveStale");
        // threshold + for: = the RPO (archive_timeout 9m30s + 30s upload allowance = 10m; region 15m)
        assert.match(stale.expr, /cnpg_pg_stat_archiver_seconds_since_last_archival\{[^}]*\} > 540\)/);
        assert.equal(stale.for, "1m");
        const backlog = rules(run).find((r: any) => r.alert === "DrWalArchiveBacklog");
        assert.match(backlog.expr, /\[5m\]\)\) > 30$/);
        assert.equal(backlog.for, "9m30s");
        const lag = rules(run).find((r: any) => r.alert === "DrReplicaLagAboveRpo");
        assert.match(lag.expr, /cnpg_pg_replication_lag\{[^}]*\} > 780$/);
        assert.equal(lag.for, "2m");
        assert.match(lag.annotations.description, /drstack:rpo\.region is 15m/);
    });

    it("thresholds move when the schedules move", async () => {
        const run = await runProgram("primary", { "drstack:backups.verificationSchedule": "0 5 * * *" });
        const stale = rules(run).find((r: any) => r.alert === "DrRestoreVerificationStale");
        assert.match(stale.expr, /> 108000$/, "daily verification: 1d + 6h grace");
    });

    it("a standby that streams also alerts when streaming is down", async () => {
        const run = await runProgram("dr", { "drstack:streaming": { host: "pg-use1.internal", tlsSecretName: "repl-tls" } });
        const streaming = rules(run).find((r: any) => r.alert === "DrStandbyNotStreaming");
        assert.match(streaming.expr, /cnpg_pg_replication_is_wal_receiver_up\{[^}]*\} == 0/);
    });

    it("an alias endpoint makes an A alias record with target health", async () => {
        const run = await runProgram("primary", {
            "drstack:dns.endpointType": "alias",
            "drstack:dns.endpoint": "internal-pg-gw-123.us-east-1.elb.amazonaws.com",
            "drstack:dns.aliasZoneId": "Z35SXDOTRQ7X7K",
        });
        const record = run.one(T.record).inputs;
        assert.equal(record.type, "A");
        assert.deepEqual(record.aliases, [{ name: "internal-pg-gw-123.us-east-1.elb.amazonaws.com", zoneId: "Z35SXDOTRQ7X7K", evaluateTargetHealth: true }]);
        assert.equal(record.ttl, undefined);
    });

    it("every alert's runbook section exists in the README", () => {
        const readme = fs.readFileSync(path.join(__dirname, "../../README.md"), "utf8");
        const anchors = new Set(
            [...readme.matchAll(/^#+ (.+)$/gm)].map((m) =>
                m[1]
                    .trim()
                    .toLowerCase()
                    .replace(/[^a-z0-9 -]/g, "")
                    .replace(/ /g, "-"),
            ),
        );
        const names = new Set<string>();
        for (const stack of ["primary", "dr"]) {
            const withStreaming = { ...readStackConfig(stack), "drstack:streaming": JSON.stringify({ host: "h", tlsSecretName: "s" }) };
            for (const r of alertRuleGroups(parseConfig(withStreaming, stack)).groups.flatMap((g) => g.rules)) names.add(r.alert);
            for (const r of alertRuleGroups(parseConfig({ ...withStreaming, "drstack:role": stack === "primary" ? "standby" : "primary", "drstack:promotion": JSON.stringify({ generation: 1 }) }, stack)).groups.flatMap((g) => g.rules)) names.add(r.alert);
        }
        for (const name of names) {
            assert.ok(anchors.has(runbookAnchor(name)), `README has no section "Alert: ${name}" (#${runbookAnchor(name)})`);
        }
    });
});

describe("the heartbeat that keeps an idle primary's commit timestamps moving", function () {
    this.timeout(testTimeout(120_000));
    it("the primary stack runs it against its read-write service with the jobs' credentials; the dr stack does not", async () => {
        const primary = await runProgram("primary", {}, {});
        const deployments = primary.ofType("kubernetes:apps/v1:Deployment").filter((d) => d.inputs.metadata.name === "pg-acme-orders-use1-heartbeat");
        assert.equal(deployments.length, 1);
        const spec = deployments[0].inputs.spec;
        assert.equal(spec.replicas, 1);
        const container = spec.template.spec.containers[0];
        assert.match(container.command.join(" "), /pg_logical_emit_message\(true, 'drstack-heartbeat', now\(\)::text\).*sleep 30;/);
        const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom.secretKeyRef]));
        assert.equal(env.PGHOST, "pg-acme-orders-use1-rw.databases.svc");
        assert.deepEqual(env.PGPASSWORD, { name: "pg-acme-orders-use1-verification-credentials", key: "password" });
        const dr = await runProgram("dr", {});
        assert.deepEqual(dr.ofType("kubernetes:apps/v1:Deployment").filter((d) => /heartbeat/.test(d.inputs.metadata.name)), []);
    });
});
