// Static stability and fencing (issue 11 items 3 and 4), on the real program under mocks:
// - DNS: a failover changes no Route53 resource of either stack; only the non-home stack's fence
//   alarm follows the role, and the home stack's PRIMARY record is fenced by it;
// - the fence check CronJob in every stack references only objects the stack declares, with
//   minimal RBAC and IAM; the fence marker exists only when promoted by emergency failover, with a
//   body the job accepts (the model's zod schema).
import { strict as assert } from "assert";
import { fenceCheckObjectNames, RESOURCE_TYPES as T } from "../../model/contract";
import { FENCE_CHECK, fenceCheckRbacRules, fenceMarkerKey, FenceMarkerSchema } from "../../model/fence";
import { dnsFenceAlarmName } from "../../model/naming";
import { Declared, ProgramRun, runProgram } from "../support/program";
import { EMERGENCY_DR, PROMOTE_DR, PROMOTED_AT } from "../support/promotion";

const USE1 = "pg-acme-orders-use1";
const USW2 = "pg-acme-orders-usw2";
const FENCE_ALARM = dnsFenceAlarmName("acme-orders", "us-west-2");
const PRIMARY_PEERS = { "acme/drstack/primary": { role: "primary" } };
const PRIMARY_DEMOTED = { "acme/drstack/primary": { role: "standby", demotionToken: "token" } };

/** Every Route53 resource, and every alarm of the failover component (health alarm, fence alarm), by logical name. */
function dnsInputs(run: ProgramRun): Record<string, Record<string, unknown>> {
    const route53 = run.resources.filter((r) => r.type === T.route53Record || r.type === T.route53HealthCheck);
    const alarms = run.ofType(T.metricAlarm).filter((a) => a.parent === "acme-orders-failover");
    return Object.fromEntries([...route53, ...alarms].map((r) => [r.name, r.inputs]));
}

function fenceAlarm(run: ProgramRun): Declared | undefined {
    return run.ofType(T.metricAlarm).find((a) => a.inputs.name === FENCE_ALARM);
}

describe("DNS failover is data-plane only: static records, a fence alarm the non-home stack owns", () => {
    let home: ProgramRun;
    let away: ProgramRun;
    before(async () => {
        home = await runProgram("primary");
        away = await runProgram("dr", {});
    });

    it("the shipped pair declares exactly one PRIMARY and one SECONDARY record for the name", () => {
        const records = [...home.ofType(T.route53Record), ...away.ofType(T.route53Record)].map((r) => r.inputs);
        assert.deepEqual(records.map((r) => r.failoverRoutingPolicies[0].type).sort(), ["PRIMARY", "SECONDARY"]);
        assert.equal(new Set(records.map((r) => r.name)).size, 1);
        assert.equal(new Set(records.map((r) => r.setIdentifier)).size, 2);
    });

    it("the non-home stack owns the fence: an alarm in its own region on a metric nobody publishes, lowered while standby", () => {
        const alarm = fenceAlarm(away);
        assert.ok(alarm, "no fence alarm in the dr stack");
        assert.equal(alarm.inputs.region, undefined, "the stack's own region (us-west-2)");
        assert.equal(alarm.inputs.treatMissingData, "notBreaching");
        assert.equal(alarm.inputs.period, 60, "standard resolution");
        assert.ok(["Minimum", "Maximum", "Average", "Sum", "SampleCount"].includes(alarm.inputs.statistic), "a simple statistic");
        assert.equal(alarm.inputs.metrics, undefined, "no metric math");
        assert.equal(fenceAlarm(home), undefined, "the home stack declares no fence alarm");
        const record = away.one(T.route53Record).inputs;
        const endpointCheck = away.ofType(T.route53HealthCheck).find((h) => h.inputs.fqdn === "db-api.usw2.acme.example.com");
        assert.equal(record.healthCheckId, `${endpointCheck!.name}-id`, "SECONDARY uses its endpoint health check");
    });

    it("the home stack's PRIMARY record uses endpoint healthy AND the peer's fence alarm healthy", () => {
        const checks = Object.fromEntries(home.ofType(T.route53HealthCheck).map((h) => [`${h.name}-id`, h.inputs]));
        const record = home.one(T.route53Record).inputs;
        const calculated = checks[record.healthCheckId];
        assert.equal(calculated.type, "CALCULATED");
        assert.equal(calculated.childHealthThreshold, 2);
        assert.equal(calculated.childHealthchecks.length, 2);
        const children = calculated.childHealthchecks.map((id: string) => checks[id]);
        const endpoint = children.find((c: any) => c.type === "HTTPS");
        const fence = children.find((c: any) => c.type === "CLOUDWATCH_METRIC");
        assert.equal(endpoint.fqdn, "db-api.use1.acme.example.com");
        assert.deepEqual(
            { name: fence.cloudwatchAlarmName, region: fence.cloudwatchAlarmRegion, insufficient: fence.insufficientDataHealthStatus },
            { name: fenceAlarm(away)!.inputs.name, region: "us-west-2", insufficient: "LastKnownStatus" },
            "the alarm the dr stack declares, by name and region; a lost dr region keeps the last state",
        );
    });

    for (const [what, drOverrides, peers] of [
        ["planned switchover", PROMOTE_DR, PRIMARY_DEMOTED],
        ["emergency failover", EMERGENCY_DR, PRIMARY_PEERS],
    ] as const) {
        it(`${what}: no Route53 resource of either stack changes; only the fence alarm's treatMissingData flips`, async () => {
            const demotedHome = await runProgram("primary", { "drstack:role": "standby" });
            const promotedAway = await runProgram("dr", drOverrides, { peers });
            assert.deepEqual(dnsInputs(demotedHome), dnsInputs(home), "home stack");
            const before = dnsInputs(away);
            const after = dnsInputs(promotedAway);
            assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
            assert.ok(Object.keys(before).length >= 4, "record, health check, health alarm, fence alarm");
            const alarm = fenceAlarm(away)!.name;
            for (const name of Object.keys(before).filter((n) => n !== alarm)) {
                assert.deepEqual(after[name], before[name], name);
            }
            assert.deepEqual({ ...after[alarm], treatMissingData: "x" }, { ...before[alarm], treatMissingData: "x" });
            assert.equal(after[alarm].treatMissingData, "breaching", "raised: the home record turns unhealthy");
        });
    }
});

describe("fence check CronJob and fence marker", () => {
    for (const [stack, self, peer] of [
        ["primary", USE1, USW2],
        ["dr", USW2, USE1],
    ] as const) {
        describe(`${stack} stack`, () => {
            let run: ProgramRun;
            before(async () => {
                run = await runProgram(stack, {}, {});
            });
            const names = fenceCheckObjectNames(self);

            it("runs scripts/fence-check.sh every minute, Forbid, with the model's env and this stack's own objects", () => {
                const job = run.ofType(T.cronJob).find((j) => j.inputs.metadata.name === names.cronJob);
                assert.ok(job, "no fence-check CronJob");
                const spec = job.inputs.spec;
                assert.equal(spec.schedule, "* * * * *");
                assert.equal(spec.concurrencyPolicy, "Forbid");
                assert.ok(spec.startingDeadlineSeconds + spec.jobTemplate.spec.activeDeadlineSeconds < 60, "a run ends before the next is due");
                const pod = spec.jobTemplate.spec.template.spec;
                const container = pod.containers[0];
                assert.match(container.command.join(" "), new RegExp(`/${FENCE_CHECK.script}$`));
                const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
                assert.deepEqual(
                    { CLUSTER_NAME: env.CLUSTER_NAME, PEER_CLUSTER_NAME: env.PEER_CLUSTER_NAME, CLUSTER_ROLE: env.CLUSTER_ROLE, PROMOTION_GENERATION: env.PROMOTION_GENERATION },
                    { CLUSTER_NAME: self, PEER_CLUSTER_NAME: peer, CLUSTER_ROLE: stack === "primary" ? "primary" : "standby", PROMOTION_GENERATION: "0" },
                );
                const bucket = run.one(T.bucket).inputs.bucket;
                assert.equal(env.S3_BUCKET, bucket, "this region's own bucket");
                const scratch = container.volumeMounts.find((m: any) => m.name === "scratch");
                assert.equal(env.TMPDIR, scratch.mountPath, "the read-only root filesystem needs TMPDIR on the scratch volume");
                assert.equal(container.securityContext.readOnlyRootFilesystem, true);

                // Every object the pod refers to is declared by this stack.
                const sa = run.ofType(T.serviceAccount).find((s) => s.inputs.metadata.name === pod.serviceAccountName);
                assert.ok(sa, `ServiceAccount ${pod.serviceAccountName} is not declared`);
                assert.notEqual(sa.inputs.automountServiceAccountToken, false, "the job calls the API server with its token");
                for (const volume of pod.volumes.filter((v: any) => v.configMap)) {
                    assert.ok(run.ofType(T.configMap).some((m) => m.inputs.metadata.name === volume.configMap.name), `ConfigMap ${volume.configMap.name}`);
                    const scripts = run.ofType(T.configMap).find((m) => m.inputs.metadata.name === volume.configMap.name)!;
                    assert.ok(FENCE_CHECK.script in scripts.inputs.data && "lib.sh" in scripts.inputs.data, "the script and its library are mounted");
                }
                assert.deepEqual(container.env.filter((e: any) => e.valueFrom), [], "no Secret references");
            });

            it("may get and patch its own Cluster, nothing else", () => {
                const role = run.ofType(T.role).find((r) => r.inputs.metadata.name === names.role);
                assert.deepEqual(role!.inputs.rules, fenceCheckRbacRules(self));
                assert.deepEqual(role!.inputs.rules, [{ apiGroups: ["postgresql.cnpg.io"], resources: ["clusters"], resourceNames: [self], verbs: ["get", "patch"] }]);
                const binding = run.ofType(T.roleBinding).find((b) => b.inputs.metadata.name === names.roleBinding)!;
                assert.deepEqual(binding.inputs.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.role });
                assert.deepEqual(binding.inputs.subjects.map((s: any) => [s.kind, s.name]), [["ServiceAccount", names.serviceAccount]]);
            });

            it("reads only the peer's marker in its own bucket (IRSA), and decrypts with the bucket key", () => {
                const sa = run.ofType(T.serviceAccount).find((s) => s.inputs.metadata.name === names.serviceAccount)!;
                const roleName = /role\/(.+)$/.exec(sa.inputs.metadata.annotations["eks.amazonaws.com/role-arn"])![1];
                const trust = JSON.parse(run.byName(roleName).inputs.assumeRolePolicy);
                assert.deepEqual(Object.values(trust.Statement[0].Condition.StringEquals)[0], `system:serviceaccount:databases:${names.serviceAccount}`);
                const policy = JSON.parse(run.byName(`${roleName}-permissions`).inputs.policy);
                const bucket = run.one(T.bucket).inputs.bucket;
                const actions = policy.Statement.map((s: any) => [s.Action, s.Resource]);
                assert.deepEqual(actions.slice(0, 2), [
                    ["s3:ListBucket", `arn:aws:s3:::${bucket}`],
                    ["s3:GetObject", `arn:aws:s3:::${bucket}/${fenceMarkerKey(peer)}`],
                ]);
                assert.deepEqual(policy.Statement[0].Condition.StringLikeIfExists["s3:prefix"], [fenceMarkerKey(peer)]);
                assert.deepEqual(policy.Statement[2].Action, ["kms:Decrypt"]);
                assert.equal(policy.Statement.length, 3);
            });

            it("writes no fence marker while not promoted by emergency failover", () => {
                assert.deepEqual(run.ofType(T.bucketObject), []);
            });
        });
    }

    it("a planned promotion writes no marker; the fence job follows the role and generation", async () => {
        const run = await runProgram("dr", PROMOTE_DR, { peers: PRIMARY_DEMOTED });
        assert.deepEqual(run.ofType(T.bucketObject), []);
        const job = run.ofType(T.cronJob).find((j) => j.inputs.metadata.name === fenceCheckObjectNames(USW2).cronJob)!;
        const env = Object.fromEntries(job.inputs.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.deepEqual([env.CLUSTER_ROLE, env.PROMOTION_GENERATION], ["primary", "1"]);
    });

    it("an emergency failover writes the marker into its OWN bucket, with a body the fence job accepts", async () => {
        const run = await runProgram("dr", EMERGENCY_DR, { peers: PRIMARY_PEERS });
        const marker = run.one(T.bucketObject);
        assert.equal(marker.inputs.bucket, run.one(T.bucket).inputs.bucket);
        assert.equal(marker.inputs.bucket, "backups-acme-orders-us-west-2");
        assert.equal(marker.inputs.key, fenceMarkerKey(USW2));
        assert.equal(marker.inputs.contentType, "application/json");
        assert.equal(marker.inputs.serverSideEncryption, undefined, "the bucket default (SSE-KMS with the bucket key) applies");
        assert.equal(marker.inputs.kmsKeyId, undefined);
        assert.equal(marker.retainOnDelete, true, "failback never has to delete a locked object");
        const body = FenceMarkerSchema.parse(JSON.parse(marker.inputs.content));
        assert.deepEqual(
            { promoted: body.promotedCluster, fenced: body.fencedCluster, generation: body.generation, at: body.promotedAt },
            { promoted: USW2, fenced: USE1, generation: 1, at: PROMOTED_AT },
        );
        // The old primary's job fences for this marker: its generation (0) is below the marker's.
        const home = await runProgram("primary");
        const job = home.ofType(T.cronJob).find((j) => j.inputs.metadata.name === fenceCheckObjectNames(USE1).cronJob)!;
        const env = Object.fromEntries(job.inputs.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.PEER_CLUSTER_NAME, body.promotedCluster);
        assert.ok(Number(env.PROMOTION_GENERATION) < body.generation);
    });
});
