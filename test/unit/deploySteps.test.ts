// The drill's reading of one runbook step (drill/deploySteps.ts), without PostgreSQL: the first
// deployment's declared state at each step from given peer outputs and bucket objects, what of a
// step would fail in AWS or CloudNativePG, idempotence, and when the engine replaces the Cluster.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { clusterReplaced, declarationDiff, declareStep, DeclaredStep, FIRST_DEPLOYMENT_SEQUENCE, peersOf, wouldFail, World } from "../../drill/deploySteps";

const USE1_BUCKET = "backups-acme-orders-us-east-1";
const USW2_BUCKET = "backups-acme-orders-us-west-2";
const USE1_BACKUP = "pg-acme-orders-use1/base/20261124T020000/backup.info";

describe("the drill's runbook steps: first deployment", function () {
    // Several program runs: allow for a loaded 2-core machine.
    this.timeout(180_000);
    const world: World = { deployed: {}, objects: {} };
    const steps: DeclaredStep[] = [];

    before(async () => {
        // The README sequence with the world each step sees: 1. nothing; 2. dr deployed, its bucket empty;
        // 3. both deployed, the primary's base backup replicated into dr's bucket.
        steps.push(await declareStep("dr", {}, world));
        world.deployed.dr = steps[0].outputs;
        world.objects = { [USW2_BUCKET]: [] };
        steps.push(await declareStep("primary", {}, world));
        world.deployed.primary = steps[1].outputs;
        world.objects = { [USE1_BUCKET]: [USE1_BACKUP], [USW2_BUCKET]: [USE1_BACKUP] };
        steps.push(await declareStep("dr", {}, world));
    });

    it("is the README's sequence of `pulumi up`, in order", () => {
        const readme = fs.readFileSync(path.join(__dirname, "../../README.md"), "utf8");
        const section = readme.split("\n## Deploying for real")[1].split("\n## ")[0];
        const ups = [...section.matchAll(/^pulumi up -s (\w+)/gm)].map((m) => m[1]);
        assert.deepEqual(ups, [...FIRST_DEPLOYMENT_SEQUENCE]);
    });

    it("stacks never deployed have no outputs; deployed ones have theirs", () => {
        const peers = peersOf({ deployed: { dr: { role: "standby" } }, objects: {} });
        assert.deepEqual(peers, { "acme/drstack/primary": {}, "acme/drstack/dr": { role: "standby" } });
    });

    it("1. dr: its bucket only; no replication, no Cluster, and it says what it waits for", () => {
        const [dr] = steps;
        assert.equal(dr.bucket, USW2_BUCKET);
        assert.equal(dr.replication, undefined);
        assert.equal(dr.cluster, undefined);
        assert.match(dr.bootstrap, /^waiting: replication into s3:\/\/backups-acme-orders-us-east-1\/ waits for the peer stack/);
        assert.deepEqual(wouldFail(dr, { deployed: {}, objects: {} }, false), []);
    });

    it("2. primary: replication into dr's bucket and the primary Cluster by initdb", () => {
        const primary = steps[1];
        assert.equal(primary.bucket, USE1_BUCKET);
        assert.equal(primary.replication?.sourceBucket, USE1_BUCKET);
        assert.ok(primary.replication!.rules.every((r) => r.destinationBucket === USW2_BUCKET));
        assert.deepEqual(primary.cluster && { name: primary.cluster.name, isPrimary: primary.cluster.isPrimary, bootstrap: primary.cluster.bootstrap }, {
            name: "pg-acme-orders-use1",
            isPrimary: true,
            bootstrap: { kind: "initdb" },
        });
        assert.equal(primary.bootstrap, "complete");
        assert.deepEqual(wouldFail(primary, { deployed: {}, objects: { [USW2_BUCKET]: [] } }, false), []);
    });

    it("3. dr again: replication into the primary's bucket and the replica Cluster recovering from the replicated backup, streaming", () => {
        const dr = steps[2];
        assert.ok(dr.replication!.rules.every((r) => r.destinationBucket === USE1_BUCKET));
        assert.equal(dr.cluster?.name, "pg-acme-orders-usw2");
        assert.equal(dr.cluster?.isPrimary, false);
        assert.deepEqual(dr.cluster?.bootstrap, { kind: "recovery", source: "pg-acme-orders-use1" });
        assert.equal(dr.cluster?.source, "pg-acme-orders-use1");
        assert.equal(dr.cluster?.streams, true, "Pulumi.dr.yaml sets drstack:streaming");
        assert.equal(dr.bootstrap, "complete");
        assert.deepEqual(wouldFail(dr, world, false), []);
    });

    it("says what would fail when the world is not what the step was declared for", () => {
        // Replication into a bucket that does not exist; a recovery with no base backup in its own bucket.
        assert.match(wouldFail(steps[1], { deployed: {}, objects: {} }, false).join("\n"), /into s3:\/\/backups-acme-orders-us-west-2, which does not exist/);
        const noBackup = { deployed: {}, objects: { [USE1_BUCKET]: [USE1_BACKUP], [USW2_BUCKET]: ["pg-acme-orders-use1/wals/0000000100000000/000000010000000000000001.gz"] } };
        assert.match(wouldFail(steps[2], noBackup, false).join("\n"), /Cluster pg-acme-orders-usw2 bootstraps by recovery from pg-acme-orders-use1, but s3:\/\/backups-acme-orders-us-west-2\/ holds no base backup of it/);
        assert.deepEqual(wouldFail(steps[2], noBackup, true), [], "a Cluster that exists is not bootstrapped again");
    });

    it("idempotence: the same world declares the same resources; progress shows as a difference", async () => {
        const again = await declareStep("dr", {}, world);
        assert.deepEqual(declarationDiff(steps[2], again), []);
        const diff = declarationDiff(steps[0], steps[2]);
        assert.ok(diff.includes("kubernetes:postgresql.cnpg.io/v1:Cluster::acme-orders-postgres-cluster"), diff.join(", "));
        assert.ok(diff.some((k) => k.startsWith("aws:s3/bucketReplicationConfig:BucketReplicationConfig::")), diff.join(", "));
    });

    it("failback: a rebuild generation replaces the old primary's Cluster, deleted first; a role flip alone does not", async () => {
        const promoted = { deployed: { ...world.deployed, dr: { ...world.deployed.dr, role: "primary", promotionGeneration: 1 } }, objects: world.objects };
        const demoted = await declareStep("primary", { "drstack:role": "standby" }, promoted);
        const rebuilt = await declareStep("primary", { "drstack:role": "standby", "drstack:rebuildGeneration": 1 }, promoted);
        assert.deepEqual(clusterReplaced(steps[1].cluster!, demoted.cluster!), []);
        assert.deepEqual(clusterReplaced(steps[1].cluster!, rebuilt.cluster!), ["spec.bootstrap", 'metadata.annotations["drstack.io/rebuild-generation"]']);
        assert.equal(rebuilt.cluster!.deleteBeforeReplace, true);
        assert.deepEqual(rebuilt.cluster!.bootstrap, { kind: "recovery", source: "pg-acme-orders-usw2" });
        assert.equal(rebuilt.cluster!.isPrimary, false);
        assert.equal(rebuilt.cluster!.source, "pg-acme-orders-usw2");
    });
});
