// point-in-time-restore-target: each case on a preview, with a fixed clock; and the archiving and
// role policies leave restore clusters to it.
import { strict as assert } from "assert";
import { singleRole } from "../failover";
import { restoreTargetPolicy } from "../restore";
import { archivingComplete, walArchiving } from "../walArchiving";
import { Fixture, violations, withProp } from "./helpers";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const policy = restoreTargetPolicy(() => NOW);

const restore: Fixture = {
    type: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    name: "restore",
    props: {
        metadata: { name: "pg-a-restore-orders", labels: { "drstack.io/restore": "orders" } },
        spec: {
            instances: 1,
            bootstrap: { recovery: { source: "pg-a", recoveryTarget: { targetTime: "2026-11-24T11:00:00Z" } } },
            externalClusters: [{ name: "pg-a", plugin: { name: "barman-cloud.cloudnative-pg.io", parameters: { barmanObjectName: "pg-a-archive", serverName: "pg-a" } } }],
        },
    },
};
const withTarget = (recoveryTarget: unknown): Fixture => ({ ...restore, props: withProp(restore.props, "spec.bootstrap.recovery.recoveryTarget", recoveryTarget) });
const withTime = (targetTime: string) => withTarget({ targetTime });

describe("policies: point-in-time restore clusters", () => {
    it("passes a restore to a time inside the window, to an LSN, to a restore point with its backup, and to latest", async () => {
        assert.deepEqual(await violations(policy, restore), []);
        assert.deepEqual(await violations(policy, withTarget({ targetLSN: "0/16B3748" })), []);
        assert.deepEqual(await violations(policy, withTarget({ targetName: "before-migration", backupID: "20261124T020000" })), []);
        assert.deepEqual(await violations(policy, withTarget(undefined)), []);
    });
    it("is not applicable to the region's own cluster", async () => {
        const own = { ...restore, props: withProp(withTime("garbage").props, "metadata.labels", {}) };
        assert.deepEqual(await violations(policy, own), []);
    });
    it("fails a target time that does not parse", async () => {
        assert.match((await violations(policy, withTime("yesterday")))[0], /recoveryTarget\.targetTime "yesterday" is not an RFC 3339 timestamp.*\[stack setting: drstack:restore\]$/);
    });
    it("fails a target time without a zone", async () => {
        assert.match((await violations(policy, withTime("2026-11-24 11:00:00")))[0], /"2026-11-24 11:00:00" has no time zone/);
    });
    it("fails a target time in the future", async () => {
        assert.match((await violations(policy, withTime("2026-11-24T12:05:00Z")))[0], /"2026-11-24T12:05:00Z" is in the future \(now is 2026-11-24T12:00:00\.000Z\)/);
    });
    it("fails a target time older than the recovery window, naming the window target", async () => {
        const [message] = await violations(policy, withTime("2026-10-20T12:00:00Z"));
        assert.match(message, /is older than the recovery window \(target recoveryWindow 30d\) allows \(the oldest restorable time is 2026-10-25T12:00:00\.000Z/);
        assert.deepEqual(await violations(policy, withTime("2026-10-20T12:00:00Z"), { recoveryWindow: "60d" }), [], "the window comes from the pack config");
    });
    it("fails a malformed LSN and a restore point without its base backup", async () => {
        assert.match((await violations(policy, withTarget({ targetLSN: "16B3748" })))[0], /targetLSN "16B3748" is not an LSN/);
        assert.match((await violations(policy, withTarget({ targetName: "before-migration" })))[0], /targetName needs backupID/);
    });
    it("fails a restore cluster that archives, joins the replication topology, or does not recover", async () => {
        const archiving = { ...restore, props: withProp(restore.props, "spec.plugins", [{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true }]) };
        assert.match((await violations(policy, archiving))[0], /archives WAL or joins the replication topology.*\[fixed by drstack in components\/postgres\/restore\.ts/);
        assert.match((await violations(policy, { ...restore, props: withProp(restore.props, "spec.replica", { self: "x", primary: "x" }) }))[0], /joins the replication topology/);
        assert.match((await violations(policy, { ...restore, props: withProp(restore.props, "spec.bootstrap", { initdb: {} }) }))[0], /without spec\.bootstrap\.recovery restores nothing/);
    });
    it("the archiving and role policies leave restore clusters to this policy", async () => {
        assert.deepEqual(await violations(walArchiving, restore), []);
        assert.deepEqual(await violations(archivingComplete, restore), []);
        const standby = { type: "drstack:region:DrRegion", name: "region", props: { config: { role: "standby" } } };
        assert.deepEqual(await violations(singleRole, [standby, restore]), []);
        // Without the label the same cluster is judged as a region cluster, and fails.
        const unlabelled = { ...restore, props: withProp(restore.props, "metadata.labels", {}) };
        assert.ok((await violations(walArchiving, unlabelled)).length > 0);
        assert.ok((await violations(singleRole, [standby, unlabelled])).length > 0);
    });
});
