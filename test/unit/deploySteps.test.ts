// The drill's first-deployment and failback steps through the shared driver (drill/runbook.ts),
// with the checks of drill/deploySteps.ts, without PostgreSQL: the declared state at each step from
// given peer outputs and bucket objects, what of a step would fail in AWS or CloudNativePG,
// idempotence, and the rebuild of the old primary.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { declarationDiff, declaredBucket, FIRST_DEPLOYMENT_SEQUENCE, Objects, wouldFail } from "../../drill/deploySteps";
import { clusterChange, DeclaredStep, mainCluster, RunbookState } from "../../drill/runbook";
import { testTimeout } from "../support/timeouts";

const USE1_BUCKET = "backups-acme-orders-us-east-1";
const USW2_BUCKET = "backups-acme-orders-us-west-2";
const USE1_BACKUP = "pg-acme-orders-use1/base/20261124T020000/backup.info";

describe("the drill's runbook steps: first deployment", function () {
    // Several program runs: allow for a loaded 2-core machine.
    this.timeout(testTimeout(180_000));
    const state = new RunbookState(["primary", "dr"], "never-deployed");
    const steps: DeclaredStep[] = [];
    const deployedObjects: Objects = { [USE1_BUCKET]: [USE1_BACKUP], [USW2_BUCKET]: [USE1_BACKUP] };

    before(async () => {
        // The README sequence with the buckets each step sees: 1. none; 2. dr's, empty; 3. both, the
        // primary's base backup replicated into dr's. Each step's outputs are what the next one's peer reads.
        steps.push(await state.run({ stack: "dr" }, {}));
        steps.push(await state.run({ stack: "primary" }, { [USW2_BUCKET]: [] }));
        steps.push(await state.run({ stack: "dr" }, deployedObjects));
    });

    it("is the README's sequence of `pulumi up`, in order", () => {
        const readme = fs.readFileSync(path.join(__dirname, "../../README.md"), "utf8");
        const section = readme.split("\n## Deploying for real")[1].split("\n## ")[0];
        const ups = [...section.matchAll(/^pulumi up -s (\w+)/gm)].map((m) => m[1]);
        assert.deepEqual(ups, [...FIRST_DEPLOYMENT_SEQUENCE]);
    });

    it("1. dr: its bucket only; no replication, no Cluster, and it says what it waits for", () => {
        const [dr] = steps;
        assert.equal(declaredBucket(dr), USW2_BUCKET);
        assert.equal(dr.replication, undefined);
        assert.deepEqual(dr.clusters, []);
        assert.match(String(dr.outputs.bootstrap), /^waiting: replication into s3:\/\/backups-acme-orders-us-east-1\/ waits for the peer stack/);
        assert.deepEqual(wouldFail(dr, {}, []), []);
    });

    it("2. primary: replication into dr's bucket and the primary Cluster by initdb", () => {
        const primary = steps[1];
        assert.equal(declaredBucket(primary), USE1_BUCKET);
        assert.equal(primary.replication?.sourceBucket, USE1_BUCKET);
        assert.ok(primary.replication!.rules.every((r) => r.destinationBucket === USW2_BUCKET));
        const c = mainCluster(primary);
        assert.deepEqual({ name: c.name, writable: c.writable, bootstrap: c.bootstrap }, { name: "pg-acme-orders-use1", writable: true, bootstrap: { method: "initdb" } });
        assert.equal(primary.outputs.bootstrap, "complete");
        assert.deepEqual(wouldFail(primary, { [USW2_BUCKET]: [] }, [c.name]), []);
    });

    it("3. dr again: replication into the primary's bucket and the replica Cluster recovering from the replicated backup, streaming", () => {
        const dr = steps[2];
        assert.ok(dr.replication!.rules.every((r) => r.destinationBucket === USE1_BUCKET));
        const c = mainCluster(dr);
        assert.equal(c.name, "pg-acme-orders-usw2");
        assert.equal(c.writable, false);
        assert.equal(c.replicaOf, "pg-acme-orders-use1");
        assert.deepEqual(c.bootstrap, { method: "recovery", source: "pg-acme-orders-use1" });
        assert.equal(c.streams, true, "Pulumi.dr.yaml sets drstack:streaming");
        assert.equal(dr.outputs.bootstrap, "complete");
        assert.deepEqual(wouldFail(dr, deployedObjects, [c.name]), []);
    });

    it("says what would fail when the world is not what the step was declared for", () => {
        // Replication into a bucket that does not exist; a recovery with no base backup in its own bucket.
        assert.match(wouldFail(steps[1], {}, []).join("\n"), /into s3:\/\/backups-acme-orders-us-west-2, which does not exist/);
        const noBackup = { [USE1_BUCKET]: [USE1_BACKUP], [USW2_BUCKET]: ["pg-acme-orders-use1/wals/0000000100000000/000000010000000000000001.gz"] };
        assert.match(wouldFail(steps[2], noBackup, ["pg-acme-orders-usw2"]).join("\n"), /Cluster pg-acme-orders-usw2 bootstraps by recovery from pg-acme-orders-use1, but s3:\/\/backups-acme-orders-us-west-2\/ holds no base backup of it/);
        assert.deepEqual(wouldFail(steps[2], noBackup, []), [], "a Cluster that exists is not bootstrapped again");
    });

    it("idempotence: the same world declares the same resources; progress shows as a difference", async () => {
        const again = await state.run({ stack: "dr" }, deployedObjects);
        assert.deepEqual(declarationDiff(steps[2], again), []);
        const diff = declarationDiff(steps[0], steps[2]);
        assert.ok(diff.includes("kubernetes:postgresql.cnpg.io/v1:Cluster::acme-orders-postgres-cluster"), diff.join(", "));
        assert.ok(diff.some((k) => k.startsWith("aws:s3/bucketReplicationConfig:BucketReplicationConfig::")), diff.join(", "));
    });

    it("failback: role standby demotes the old primary; with a rebuild generation it is rebuilt by recovery from the new primary", async () => {
        // dr promoted in an emergency (generation 1); the old primary's bucket holds dr's replicated base backup.
        state.setOutput("dr", "role", "primary");
        state.setOutput("dr", "promotionGeneration", 1);
        const objects = { ...deployedObjects, [USE1_BUCKET]: [USE1_BACKUP, "pg-acme-orders-usw2/base/20261124T030000/backup.info"] };
        const demoted = await state.run({ stack: "primary", overrides: { "drstack:role": "standby" } }, objects);
        assert.deepEqual(clusterChange(mainCluster(steps[1]), mainCluster(demoted)), { kind: "demote", replicaOf: "pg-acme-orders-usw2" });
        const rebuilt = await state.run({ stack: "primary", overrides: { "drstack:rebuildGeneration": 1 } }, objects);
        const c = mainCluster(rebuilt);
        assert.deepEqual(clusterChange(mainCluster(demoted), c), { kind: "rebuild", bootstrap: { method: "recovery", source: "pg-acme-orders-usw2" } });
        assert.equal(c.replicaOf, "pg-acme-orders-usw2");
        assert.deepEqual(wouldFail(rebuilt, objects, [c.name]), []);
        assert.match(wouldFail(rebuilt, deployedObjects, [c.name]).join("\n"), /no base backup of it/, "the rebuild needs the new primary's backup in the home bucket");
    });
});
