// drstack:restore under Pulumi mocks: each restore declares a new CloudNativePG Cluster bootstrapped
// by recovery from this region's bucket through the Barman Cloud plugin, with the exact target; it
// never archives, has no DNS, reads its source's prefix only, and goes away with the setting.
import { strict as assert } from "assert";
import { BARMAN_CLOUD_PLUGIN, clusterObjectNames, LABELS, RESOURCE_TYPES as T } from "../../model/contract";
import { postgresRecoverySettings, postgresTargetTime } from "../../model/restore";
import { ProgramRun, runProgram, runProgramExpectingError } from "../support/program";
import { testTimeout } from "../support/timeouts";

const USE1 = "pg-acme-orders-use1";
const USW2 = "pg-acme-orders-usw2";
const HOUR_AGO = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, "Z");

function clusters(run: ProgramRun) {
    return run.ofType(T.cnpgCluster).map((r) => r.inputs);
}
function restoreCluster(run: ProgramRun, name: string) {
    const found = clusters(run).find((c) => c.metadata.name === name);
    assert.ok(found, `no Cluster ${name}; declared: ${clusters(run).map((c) => c.metadata.name).join(", ")}`);
    return found;
}

describe("drstack:restore: point-in-time restores as stack settings", function () {
    this.timeout(testTimeout(120_000));
    let run: ProgramRun;
    const restores = [
        { name: "orders", target: { time: HOUR_AGO }, source: "self" },
        { name: "premigration", target: { name: "before-migration", backupId: "20261124T020000" }, source: "self", instances: 2 },
    ];
    before(async () => {
        run = await runProgram("primary", { "drstack:restore": restores });
    });

    it("declares one Cluster per restore next to the region's own, named <cluster>-restore-<name>", () => {
        assert.deepEqual(clusters(run).map((c) => c.metadata.name).sort(), [USE1, `${USE1}-restore-orders`, `${USE1}-restore-premigration`]);
        const c = restoreCluster(run, `${USE1}-restore-orders`);
        assert.equal(c.metadata.namespace, "databases");
        assert.equal(c.metadata.labels[LABELS.restore], "orders");
        assert.equal(c.spec.instances, 1, "one instance by default");
        assert.equal(restoreCluster(run, `${USE1}-restore-premigration`).spec.instances, 2);
    });

    it("bootstraps by recovery from this region's archive through the plugin, with the exact target", () => {
        const c = restoreCluster(run, `${USE1}-restore-orders`);
        assert.deepEqual(c.spec.bootstrap, { recovery: { source: USE1, database: "app", owner: "app", recoveryTarget: { targetTime: HOUR_AGO } } });
        assert.deepEqual(c.spec.externalClusters, [
            { name: USE1, plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: clusterObjectNames(USE1).archiveObjectStore, serverName: USE1 } } },
        ]);
        // The ObjectStore it reads is the cluster's own, pointing at this region's bucket.
        const store = run.ofType(T.objectStore).find((s) => s.inputs.metadata.name === clusterObjectNames(USE1).archiveObjectStore);
        assert.equal(store?.inputs.spec.configuration.destinationPath, "s3://backups-acme-orders-us-east-1/");
        assert.deepEqual(restoreCluster(run, `${USE1}-restore-premigration`).spec.bootstrap.recovery.recoveryTarget, {
            targetName: "before-migration",
            backupID: "20261124T020000",
        });
    });

    it("never archives and takes no base backups; is not protected, so removing it deletes it", () => {
        for (const name of ["orders", "premigration"]) {
            const c = restoreCluster(run, `${USE1}-restore-${name}`);
            assert.equal(c.spec.plugins, undefined, "no WAL archiver");
            assert.equal(c.spec.replica, undefined);
            const declared = run.ofType(T.cnpgCluster).find((r) => r.inputs.metadata.name === c.metadata.name)!;
            assert.equal(declared.protect, false);
        }
        assert.deepEqual(run.ofType(T.scheduledBackup).map((b) => b.inputs.spec.cluster.name), [USE1]);
        // No DNS for restores: the only records are the region's failover pair member(s), if any.
        assert.ok(run.ofType(T.route53Record).every((r) => !JSON.stringify(r.inputs).includes("restore")));
    });

    it("reads only its source's prefix: an IRSA role of its own, trusted by the restored cluster's service account", () => {
        const trust = JSON.parse(run.byName("acme-orders-restore-orders-irsa").inputs.assumeRolePolicy);
        assert.equal(Object.values(trust.Statement[0].Condition.StringEquals)[0], `system:serviceaccount:databases:${USE1}-restore-orders`);
        const policy = JSON.parse(run.byName("acme-orders-restore-orders-irsa-permissions").inputs.policy);
        const actions = policy.Statement.flatMap((s: any) => [].concat(s.Action));
        assert.deepEqual(actions.sort(), ["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]);
        const get = policy.Statement.find((s: any) => s.Action === "s3:GetObject");
        assert.match(get.Resource, new RegExp(`/${USE1}/\\*$`));
        assert.deepEqual(policy.Statement.find((s: any) => s.Action === "s3:ListBucket").Condition, { StringLikeIfExists: { "s3:prefix": [`${USE1}/*`] } });
        const sa = restoreCluster(run, `${USE1}-restore-orders`).spec.serviceAccountTemplate.metadata.annotations["eks.amazonaws.com/role-arn"];
        assert.match(sa, /acme-orders-restore-orders-irsa/);
    });

    it("outputs each restore's cluster, connection Secret, host, target and source", () => {
        assert.deepEqual(run.outputs.restores.orders, {
            cluster: `${USE1}-restore-orders`,
            connectionSecret: `${USE1}-restore-orders-app`,
            host: `${USE1}-restore-orders-rw.databases.svc`,
            target: `time ${HOUR_AGO}`,
            source: `self (${USE1} in backups-acme-orders-us-east-1)`,
        });
        assert.equal(run.outputs.restores.premigration.target, "restore point before-migration (base backup 20261124T020000)");
    });

    it("a new target replaces the cluster (bootstrap is read only at creation)", () => {
        const declared = run.ofType(T.cnpgCluster).find((r) => r.inputs.metadata.name === `${USE1}-restore-orders`)!;
        assert.deepEqual(declared.replaceOnChanges, ["spec.bootstrap", "spec.externalClusters"]);
        assert.equal(declared.deleteBeforeReplace, true, "the name is fixed: the old cluster must go first");
        // The stack's own cluster is replaced only by a rebuild (drstack:rebuildGeneration), never by a restore.
        assert.deepEqual(run.ofType(T.cnpgCluster).find((r) => r.inputs.metadata.name === USE1)!.replaceOnChanges, [
            "spec.bootstrap",
            'metadata.annotations["drstack.io/rebuild-generation"]',
        ]);
    });

    it("removing the setting removes the clusters (none declared without it)", async () => {
        const without = await runProgram("primary");
        assert.deepEqual(clusters(without).map((c) => c.metadata.name), [USE1]);
        assert.deepEqual(without.outputs.restores, {});
        assert.equal(without.ofType("aws:iam/role:Role").filter((r) => r.name.includes("-restore-")).length, 0);
    });

    it("on the standby stack, restores the primary's archive as replicated into its own bucket", async () => {
        const dr = await runProgram("dr", { "drstack:restore": [{ name: "orders", target: { lsn: "0/16B3748" }, source: "peer" }] });
        const c = restoreCluster(dr, `${USW2}-restore-orders`);
        assert.deepEqual(c.spec.bootstrap.recovery, { source: USE1, database: "app", owner: "app", recoveryTarget: { targetLSN: "0/16B3748" } });
        assert.equal(c.spec.externalClusters[0].plugin.parameters.barmanObjectName, clusterObjectNames(USE1).replicatedArchiveObjectStore);
        const store = dr.ofType(T.objectStore).find((s) => s.inputs.metadata.name === clusterObjectNames(USE1).replicatedArchiveObjectStore);
        assert.equal(store?.inputs.spec.configuration.destinationPath, "s3://backups-acme-orders-us-west-2/");
        assert.equal(dr.outputs.restores.orders.source, `peer (${USE1} in backups-acme-orders-us-west-2)`);
    });

    it("latest has no recovery target: recovery replays everything archived", async () => {
        const latest = await runProgram("primary", { "drstack:restore": [{ name: "now", target: "latest", source: "self" }] });
        assert.deepEqual(restoreCluster(latest, `${USE1}-restore-now`).spec.bootstrap.recovery, { source: USE1, database: "app", owner: "app" });
    });

    it("a bad target stops the program before any resource is declared", async () => {
        const future = new Date(Date.now() + 3600_000).toISOString();
        const { error, declared } = await runProgramExpectingError("primary", { "drstack:restore": [{ name: "orders", target: { time: future }, source: "self" }] });
        assert.match(error.message, /drstack:restore\[0\]\.target\.time: .* is in the future/);
        assert.deepEqual(declared, []);
    });

    it("the declared target maps to the PostgreSQL settings CloudNativePG writes (what the drill applies)", () => {
        const target = restoreCluster(run, `${USE1}-restore-orders`).spec.bootstrap.recovery.recoveryTarget;
        assert.deepEqual(postgresRecoverySettings(target), {
            recovery_target_action: "promote",
            recovery_target_time: `${HOUR_AGO.slice(0, 10)} ${HOUR_AGO.slice(11, 19)}.000000+00:00`,
            recovery_target_inclusive: "true",
        });
        assert.deepEqual(postgresRecoverySettings(undefined), { recovery_target_action: "promote" });
    });

    it("writes a target time the way CloudNativePG does: microseconds, and Z as +00:00 (PostgreSQL refuses Z at startup)", () => {
        assert.equal(postgresTargetTime("2026-11-24T09:41:07.197121Z"), "2026-11-24 09:41:07.197121+00:00");
        assert.equal(postgresTargetTime("2026-11-24T10:41:07+01:00"), "2026-11-24 10:41:07.000000+01:00");
        assert.equal(postgresTargetTime("2026-11-24T09:41:07.123456789z"), "2026-11-24 09:41:07.123456+00:00");
        assert.equal(postgresTargetTime("2026-11-24 09:41:07"), "2026-11-24 09:41:07", "no zone: unchanged, as upstream");
    });
});
