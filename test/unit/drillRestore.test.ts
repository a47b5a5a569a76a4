// The drill's accidental-deletion scenarios take their recovery from what the program declares for a
// drstack:restore (drill/declaredRestore.ts), never from their own idea of it: the target applied is
// the declared recoveryTarget, the archive read is the declared ObjectStore's bucket and server name,
// and a declared field the drill cannot apply is refused. No PostgreSQL here; the program runs under mocks.
import { strict as assert } from "assert";
import { chooseBaseBackup, declaredRestore, localRecoverySettings, parseDeclaredRestore } from "../../drill/declaredRestore";
import { deleteCommits, microsecondBefore } from "../../drill/restoreSteps";
import { BARMAN_CLOUD_PLUGIN, LABELS, RESOURCE_TYPES as T } from "../../model/contract";
import { postgresRecoverySettings } from "../../model/restore";
import { runProgram } from "../support/program";
import { testTimeout } from "../support/timeouts";

const MINUTE_AGO = new Date(Date.now() - 60_000).toISOString().replace("Z", "123Z"); // microseconds, as the drill's targets have
const ENDPOINT = "http://127.0.0.1:9";

/** A restore Cluster and its ObjectStore in the shape the program declares them; `patch` changes it. */
function shape(patch: (c: Record<string, any>, s: Record<string, any>) => void = () => undefined) {
    const cluster: Record<string, any> = {
        metadata: { name: "pg-x-restore-r", namespace: "db", labels: { [LABELS.restore]: "r" } },
        spec: {
            instances: 1,
            bootstrap: { recovery: { source: "pg-x", database: "app", owner: "app", recoveryTarget: { targetTime: "2026-11-24T09:41:07.197121Z" } } },
            externalClusters: [{ name: "pg-x", plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: "pg-x-archive", serverName: "pg-x" } } }],
        },
    };
    const store: Record<string, any> = { metadata: { name: "pg-x-archive", namespace: "db" }, spec: { configuration: { destinationPath: "s3://bucket-a/", s3Credentials: { inheritFromIAMRole: true } } } };
    patch(cluster, store);
    return () => parseDeclaredRestore("s", cluster, [store]);
}

describe("the drill's restore comes from the declared recovery Cluster", function () {
    this.timeout(testTimeout(180_000));

    it("applies the primary stack's declared target, bucket and server name (source self)", async () => {
        const restore = { name: "drill", target: { time: MINUTE_AGO }, source: "self" as const };
        const d = await declaredRestore("primary", restore);
        // What the program declared, read independently of the drill's parser.
        const run = await runProgram("primary", { "drstack:restore": [restore] });
        const cluster = run.ofType(T.cnpgCluster).find((c) => c.inputs.metadata.labels?.[LABELS.restore] === "drill")!.inputs;
        await new Promise((resolve) => setTimeout(resolve, 1000)); // late output registrations of this run, before the next
        assert.equal(d.cluster, cluster.metadata.name);
        assert.deepEqual(d.recoveryTarget, cluster.spec.bootstrap.recovery.recoveryTarget);
        assert.equal(d.recoveryTarget?.targetTime, MINUTE_AGO);
        assert.equal(d.serverName, cluster.spec.externalClusters[0].plugin.parameters.serverName);
        assert.equal(d.destinationPath, "s3://backups-acme-orders-us-east-1/");
        const local = localRecoverySettings(d, ENDPOINT);
        assert.deepEqual(
            Object.fromEntries(Object.entries(local).filter(([k]) => k.startsWith("recovery_target"))),
            postgresRecoverySettings(cluster.spec.bootstrap.recovery.recoveryTarget),
        );
        assert.equal(local.restore_command, `barman-cloud-wal-restore --endpoint-url ${ENDPOINT} s3://backups-acme-orders-us-east-1/ ${d.serverName} %f %p`);
        assert.equal(local.archive_mode, "off");
    });

    it("after an emergency failover the dr stack restores the old primary's archive replicated into its own bucket (source peer)", async () => {
        const failedOver = { "drstack:role": "primary", "drstack:emergencyFailover": true, "drstack:promotion.generation": 1, "drstack:promotion.at": "2026-11-24T10:00:00Z" };
        const d = await declaredRestore("dr", { name: "drill", target: { time: MINUTE_AGO }, source: "peer" }, failedOver);
        assert.equal(d.cluster, "pg-acme-orders-usw2-restore-drill");
        assert.equal(d.bucket, "backups-acme-orders-us-west-2");
        assert.equal(d.serverName, "pg-acme-orders-use1");
        assert.equal(d.recoveryTarget?.targetTime, MINUTE_AGO);
    });

    it("reads the declared shape as it is", () => {
        const d = shape()();
        assert.deepEqual(d, {
            stack: "s",
            cluster: "pg-x-restore-r",
            destinationPath: "s3://bucket-a/",
            bucket: "bucket-a",
            serverName: "pg-x",
            recoveryTarget: { targetTime: "2026-11-24T09:41:07.197121Z" },
        });
        assert.equal(localRecoverySettings(d, ENDPOINT).recovery_target_time, "2026-11-24 09:41:07.197121+00:00");
        assert.equal(shape((c) => delete c.spec.bootstrap.recovery.recoveryTarget)().recoveryTarget, undefined, "no target: everything archived");
    });

    const refused: [string, (c: Record<string, any>, s: Record<string, any>) => void, RegExp][] = [
        ["a recovery target the settings function does not map (exclusive)", (c) => (c.spec.bootstrap.recovery.recoveryTarget.exclusive = true), /recoveryTarget declares exclusive, which the drill cannot apply/],
        ["a targetXID", (c) => (c.spec.bootstrap.recovery.recoveryTarget = { targetXID: "42" }), /recoveryTarget declares targetXID/],
        ["recovery from volume snapshots", (c) => (c.spec.bootstrap.recovery.volumeSnapshots = { storage: {} }), /spec\.bootstrap\.recovery declares volumeSnapshots/],
        ["a WAL archiver", (c) => (c.spec.plugins = [{ name: BARMAN_CLOUD_PLUGIN, isWALArchiver: true }]), /spec\.plugins is not something the drill's local restore can apply/],
        ["a replica section", (c) => (c.spec.replica = { enabled: true }), /spec\.replica is not something/],
        ["an initdb bootstrap next to recovery", (c) => (c.spec.bootstrap.initdb = {}), /spec\.bootstrap declares initdb/],
        ["a source that is no external cluster", (c) => (c.spec.bootstrap.recovery.source = "other"), /source "other" names 0 externalClusters entries/],
        ["a source read without the plugin", (c) => (c.spec.externalClusters[0] = { name: "pg-x", barmanObjectStore: {} }), /declares barmanObjectStore|is not read through/],
        ["no serverName", (c) => delete c.spec.externalClusters[0].plugin.parameters.serverName, /declares no plugin parameter serverName/],
        ["an ObjectStore that is not declared", (_c, s) => (s.metadata.name = "elsewhere"), /ObjectStore pg-x-archive in db is declared 0 times/],
        ["an endpoint the drill does not reach", (_c, s) => (s.spec.configuration.endpointURL = "https://s3.example"), /spec\.configuration declares endpointURL/],
        ["static credentials", (_c, s) => (s.spec.configuration.s3Credentials = { accessKeyId: { name: "k", key: "id" } }), /the drill stands in only for inheritFromIAMRole/],
        ["a destination that is not S3", (_c, s) => (s.spec.configuration.destinationPath = "gs://bucket/"), /is not s3:\/\/<bucket>/],
    ];
    for (const [what, patch, expected] of refused) {
        it(`refuses ${what}`, () => assert.throws(shape(patch), expected));
    }

    it("picks the base backup CloudNativePG would: the newest that ended before the target, the named one, or the newest", () => {
        const backups = [
            { backup_id: "20261124T080000", status: "DONE", end_time: "Tue Nov 24 08:00:30 2026", end_xlog: "0/3000100" },
            { backup_id: "20261124T090000", status: "DONE", end_time: "Tue Nov 24 09:00:30 2026", end_xlog: "0/5000100" },
            { backup_id: "20261124T093000", status: "FAILED", end_time: "Tue Nov 24 09:30:30 2026" },
            { backup_id: "20261124T100000", status: "DONE", end_time: "Tue Nov 24 10:00:30 2026", end_xlog: "0/7000100" },
        ];
        assert.equal(chooseBaseBackup(backups, { targetTime: "2026-11-24T09:41:07Z" }), "20261124T090000");
        assert.equal(chooseBaseBackup(backups, { targetTime: "2026-11-24T09:00:30.5Z" }), "20261124T080000", "ended in the same second: not surely before");
        assert.equal(chooseBaseBackup(backups, { targetLSN: "0/6000000" }), "20261124T090000");
        assert.equal(chooseBaseBackup(backups, { targetName: "p", backupID: "20261124T080000" }), "20261124T080000");
        assert.equal(chooseBaseBackup(backups, undefined), "20261124T100000");
        assert.throws(() => chooseBaseBackup(backups, { targetTime: "2026-11-24T07:00:00Z" }), /no completed base backup fits/);
        assert.throws(() => chooseBaseBackup(backups, { targetName: "p" }), /targetName without backupID/);
    });

    it("finds the commit time in pg_waldump's output and targets the microsecond before it", () => {
        const dump = [
            "rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/0301A1B8, prev 0/0301A180, desc: DELETE off 3 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16384 blk 0",
            "rmgr: Transaction len (rec/tot):     34/    34, tx:        734, lsn: 0/0301A200, prev 0/0301A1B8, desc: COMMIT 2026-11-24 09:41:06.000001 UTC",
            "rmgr: Transaction len (rec/tot):     34/    34, tx:        735, lsn: 0/0301A228, prev 0/0301A200, desc: COMMIT 2026-11-24 09:41:07.000000 UTC",
        ].join("\n");
        assert.deepEqual([...deleteCommits(dump)], [["734", "2026-11-24 09:41:06.000001 UTC"], ["735", "2026-11-24 09:41:07.000000 UTC"]]);
        assert.equal(microsecondBefore("2026-11-24 09:41:07.000000 UTC"), "2026-11-24T09:41:06.999999Z");
        assert.equal(microsecondBefore("2026-11-24 09:41:07.197122 UTC"), "2026-11-24T09:41:07.197121Z");
        assert.equal(microsecondBefore("2026-11-24 09:41:07 UTC"), "2026-11-24T09:41:06.999999Z");
    });
});
