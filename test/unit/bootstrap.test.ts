// Race-free first deployment and static replication (issue 11 items 1-2, DESIGN.md "Static
// stability" and "Race-free bootstrap"): each bootstrap state declares what it should and says
// what it waits for; switching roles changes no replication resource of either stack.
import { strict as assert } from "assert";
import { EMERGENCY_DR, PROMOTE_DR } from "../support/promotion";
import { COMPONENT_TYPES, RESOURCE_TYPES as T } from "../../model/contract";
import { DEPLOYED_OBJECTS, DEPLOYED_PEERS } from "../support/mocks";
import { Declared, Overrides, ProgramRun, runProgram, runProgramExpectingError, RunOptions } from "../support/program";
import { testTimeout } from "../support/timeouts";

const PRIMARY_STACK = "acme/drstack/primary";
const DR_STACK = "acme/drstack/dr";
const USE1_BUCKET = "backups-acme-orders-us-east-1";
const USW2_BUCKET = "backups-acme-orders-us-west-2";
/** Stacks created with `pulumi stack init` and never deployed: no outputs. */
const NOT_DEPLOYED = { [PRIMARY_STACK]: {}, [DR_STACK]: {} };

function clusters(run: ProgramRun): Declared[] {
    return run.ofType(T.cnpgCluster);
}

describe("first deployment: replication waits for the peer bucket", () => {
    it("peer missing (the peer stack has not deployed): no replication, and the output says what to run", async () => {
        const run = await runProgram("dr", {}, { peers: NOT_DEPLOYED, objects: {} });
        assert.equal(run.ofType(T.bucketReplication).length, 0);
        assert.ok(!run.resources.some((r) => r.type === COMPONENT_TYPES.replication));
        assert.equal(run.ofType(T.bucket).length, 1, "its own bucket is declared: it is the peer's destination");
        assert.match(run.outputs.bootstrap, /^waiting: replication into s3:\/\/backups-acme-orders-us-east-1\/ waits for the peer stack acme\/drstack\/primary to create that bucket: run `pulumi up -s primary`, then `pulumi up -s dr` again/);
        assert.match(run.outputs.replication, /^waiting for the peer bucket/);
    });

    it("peer present: replication into the bucket the peer exports", async () => {
        const run = await runProgram("primary", {}, { peers: { [DR_STACK]: { role: "standby", backupBucket: USW2_BUCKET } } });
        const config = run.one(T.bucketReplication).inputs;
        assert.equal(config.bucket, USE1_BUCKET);
        assert.ok(config.rules.every((r: any) => r.destination.bucket === `arn:aws:s3:::${USW2_BUCKET}`));
        assert.equal(run.outputs.bootstrap, "complete");
    });

    it("a peer that exports another bucket than the derived one is refused before anything is declared", async () => {
        const { error, declared } = await runProgramExpectingError("primary", {}, { peers: { [DR_STACK]: { role: "standby", backupBucket: "backups-other-us-west-2" } } });
        assert.match(error.message, /exports backupBucket "backups-other-us-west-2", but this stack replicates into "backups-acme-orders-us-west-2".*Set the same drstack:prefix in both stacks/s);
        assert.deepEqual(declared, []);
    });

    it("without drstack:peerStack replication waits and the output names the setting", async () => {
        const run = await runProgram("primary", { "drstack:peerStack": undefined });
        assert.equal(run.ofType(T.bucketReplication).length, 0);
        assert.match(run.outputs.bootstrap, /set drstack:peerStack to its fully qualified name/);
    });
});

describe("first deployment: the replica cluster waits for a replicated base backup", () => {
    it("no backup yet (first run: its bucket does not even exist): no Cluster, and the output says what to run", async () => {
        const run = await runProgram("dr", {}, { objects: {} });
        assert.deepEqual(clusters(run), []);
        assert.equal(run.ofType(T.scheduledBackup).length, 0);
        assert.match(
            run.outputs.bootstrap,
            /the replica cluster pg-acme-orders-usw2 waits: no base backup of pg-acme-orders-use1 replicated into s3:\/\/backups-acme-orders-us-west-2\/pg-acme-orders-use1\/base\/ yet; run `pulumi up -s primary`, wait for its first ScheduledBackup \(or run `kubectl cnpg backup pg-acme-orders-use1 -n databases --method plugin --plugin-name barman-cloud\.cloudnative-pg\.io` in us-east-1\) and for S3 to replicate it, then `pulumi up -s dr` again/,
        );
        assert.equal(run.outputs.demotionToken, "");
        assert.equal(run.ofType(T.bucket).length, 1);
        assert.equal(run.ofType(T.cronJob).length, 3, "the verification jobs and the fence check are declared; they only read the bucket");
    });

    it("no backup yet, bucket exists but holds only WAL: still waiting", async () => {
        const run = await runProgram("dr", {}, { objects: { [USW2_BUCKET]: ["pg-acme-orders-use1/wals/0000000100000000/000000010000000000000001.gz"] } });
        assert.deepEqual(clusters(run), []);
        assert.match(run.outputs.bootstrap, /^waiting: the replica cluster/);
    });

    it("backup present: the replica cluster bootstraps by recovery, and nothing is awaited", async () => {
        const run = await runProgram("dr", {}, { objects: { [USW2_BUCKET]: ["pg-acme-orders-use1/base/20261124T020000/backup.info"] } });
        const [cluster] = clusters(run);
        assert.equal(cluster.inputs.metadata.name, "pg-acme-orders-usw2");
        assert.ok(cluster.inputs.spec.bootstrap.recovery, "bootstraps by recovery");
        assert.equal(run.outputs.bootstrap, "complete");
    });

    it("a backup in the peer's bucket does not count: it must be in this region's own bucket", async () => {
        const run = await runProgram("dr", {}, { objects: { [USE1_BUCKET]: ["pg-acme-orders-use1/base/20261124T020000/backup.info"] } });
        assert.deepEqual(clusters(run), []);
    });

    it("a primary never waits (initdb), even with an empty bucket", async () => {
        const run = await runProgram("primary", {}, { objects: {} });
        assert.ok(clusters(run)[0].inputs.spec.bootstrap.initdb);
        assert.equal(run.outputs.bootstrap, "complete");
    });

    it("a demoted primary keeps its Cluster: its own base backups keep the gate open", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby" }, { objects: { [USE1_BUCKET]: ["pg-acme-orders-use1/base/20261124T020000/backup.info"] } });
        assert.equal(clusters(run).length, 1);
    });

    it("the whole sequence: dr, primary, dr again", async () => {
        // 1. dr first: nothing of the peer yet.
        const first = await runProgram("dr", {}, { peers: NOT_DEPLOYED, objects: {} });
        assert.equal(first.ofType(T.bucketReplication).length, 0);
        assert.deepEqual(clusters(first), []);
        // 2. primary: dr has exported its bucket.
        const primary = await runProgram("primary", {}, { peers: { ...NOT_DEPLOYED, [DR_STACK]: { role: "standby", backupBucket: USW2_BUCKET } }, objects: { [USW2_BUCKET]: [] } });
        assert.equal(primary.ofType(T.bucketReplication).length, 1);
        assert.equal(clusters(primary).length, 1);
        assert.equal(primary.outputs.bootstrap, "complete");
        // 3. dr again, once the primary's first base backup has replicated.
        const again = await runProgram("dr", {}, { peers: DEPLOYED_PEERS, objects: DEPLOYED_OBJECTS });
        assert.equal(again.ofType(T.bucketReplication).length, 1);
        assert.equal(clusters(again).length, 1);
        assert.equal(again.outputs.bootstrap, "complete");
    });
});

/** Every resource of the replication component, by name, with its declared inputs. */
function replicationResources(run: ProgramRun): Map<string, unknown> {
    const components = new Set(run.resources.filter((r) => r.type === COMPONENT_TYPES.replication).map((r) => r.name));
    // The component's children (the component's own inputs are its constructor args, not a resource's).
    const owned = run.resources.filter((r) => r.parent !== undefined && components.has(r.parent));
    return new Map(owned.map((r) => [`${r.type}::${r.name}`, r.inputs]));
}

describe("switching roles changes no replication resource of either stack", function () {
    // Four program runs per test: allow for a loaded 2-core machine.
    this.timeout(testTimeout(180_000));
    const PRIMARY_DEMOTED = { [PRIMARY_STACK]: { role: "standby", demotionToken: "token", backupBucket: USE1_BUCKET }, [DR_STACK]: { role: "standby", backupBucket: USW2_BUCKET } };
    const DR_PROMOTED = { [PRIMARY_STACK]: { role: "standby", demotionToken: "token", backupBucket: USE1_BUCKET }, [DR_STACK]: { role: "primary", backupBucket: USW2_BUCKET } };
    const variants: Record<string, { stack: string; overrides: Overrides; options: RunOptions }[]> = {
        primary: [
            { stack: "primary", overrides: {}, options: {} },
            { stack: "primary", overrides: { "drstack:role": "standby" }, options: {} }, // demoted (switchover step 1)
            { stack: "primary", overrides: { "drstack:role": "standby" }, options: { peers: DR_PROMOTED } }, // after the switchover / failover
            { stack: "primary", overrides: {}, options: { peers: { ...DR_PROMOTED, [DR_STACK]: { role: "standby", backupBucket: USW2_BUCKET } } } }, // switched back
        ],
        dr: [
            { stack: "dr", overrides: {}, options: {} },
            { stack: "dr", overrides: PROMOTE_DR, options: { peers: PRIMARY_DEMOTED } }, // planned switchover
            { stack: "dr", overrides: EMERGENCY_DR, options: {} }, // emergency failover, peer still says primary
            { stack: "dr", overrides: { "drstack:role": "standby" }, options: {} }, // failed back
        ],
    };
    for (const [stack, runs] of Object.entries(variants)) {
        it(`${stack}: every role variant declares the same replication resources with the same inputs`, async () => {
            const results: Map<string, unknown>[] = [];
            for (const v of runs) {
                results.push(replicationResources(await runProgram(v.stack, v.overrides, v.options)));
            }
            assert.ok(results[0].size >= 3, `the role, its policy and the configuration: ${[...results[0].keys()]}`);
            assert.ok([...results[0].keys()].some((k) => k.startsWith(`${T.bucketReplication}::`)));
            for (const [i, r] of results.entries()) {
                assert.deepEqual(r, results[0], `variant ${i} (${JSON.stringify(runs[i].overrides)}) differs from the deployed role`);
            }
        });
    }
});
