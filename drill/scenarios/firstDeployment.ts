// First deployment from nothing (README "Deploying for real"): empty moto_server, no clusters. Each
// `pulumi up` of the documented sequence runs the real program under mocks with the peer outputs of
// the stacks deployed so far and the objects really in the buckets; the drill deploys only what it
// declares. Checked at every step: nothing declared would fail now (replication into a missing
// bucket, a recovery with no base backup), and running the step again declares exactly the same
// resources (idempotent). At the end the standby follows the primary and a write reaches it.
import { MotoServer } from "../../local/motoServer";
import { sleep } from "../../local/processes";
import { declarationDiff, declaredBucket, FIRST_DEPLOYMENT_SEQUENCE, hasBaseBackup, wouldFail } from "../deploySteps";
import { LocalDeployment } from "../localDeployment";
import { RunbookState } from "../runbook";
import { presentSeqs, Workload } from "../workload";
import { watchDeployment } from "./alerts";
import { Measurement, ScenarioContext, streamingStatus, waitUntil } from "./scenario";

/** Starts moto and runs the documented sequence, step by step; the deployment is left running. */
export async function deployFromNothing(
    { settings: s, rec, teardown }: ScenarioContext,
    { idempotence = true }: { idempotence?: boolean } = {},
): Promise<{ local: LocalDeployment; state: RunbookState }> {
    const moto = await rec.step("start moto_server (no buckets)", () => MotoServer.start());
    teardown.add("stop moto_server", () => moto.stop());
    const local = new LocalDeployment(moto, s, teardown);
    // `pulumi stack init` of both, nothing deployed: no stack has outputs yet.
    const state = new RunbookState([...new Set(FIRST_DEPLOYMENT_SEQUENCE)], "never-deployed");
    const deployed = new Set<string>();
    for (const [i, stack] of FIRST_DEPLOYMENT_SEQUENCE.entries()) {
        const n = i + 1;
        const peer = FIRST_DEPLOYMENT_SEQUENCE.find((other) => other !== stack)!;
        const peerCluster = local.region(peer).cluster?.declared.name;
        const ownBucket = local.region(stack).bucket;
        if (peerCluster && ownBucket && !local.region(stack).cluster) {
            // README step 3: wait until `aws s3 ls s3://<own bucket>/<peer cluster>/base/` lists a backup.
            await rec.step(`${n}. wait until a base backup of ${peerCluster} has replicated into s3://${ownBucket}/`, () =>
                waitUntil(`a base backup of ${peerCluster} in ${ownBucket}`, async () => hasBaseBackup(await local.refresh(), ownBucket, peerCluster), 120000),
            );
        }
        const objects = await local.refresh();
        const step = await rec.step(`${n}. pulumi up -s ${stack}: the program under mocks (stacks deployed: ${[...deployed].join(", ") || "none"})`, () =>
            state.run({ stack }, objects),
        );
        deployed.add(stack);
        const created = local.region(stack).cluster ? [] : step.clusters.filter((c) => c.main).map((c) => c.name);
        const problems = wouldFail(step, objects, created);
        rec.check(`${n}. pulumi up -s ${stack} declares nothing that would fail now`, problems.length === 0, problems.join("; ") || "every declared part can succeed");
        if (problems.length > 0) throw new Error(`step ${n} (pulumi up -s ${stack}) declares what would fail: ${problems.join("; ")}`);
        const cluster = step.clusters.find((c) => c.main);
        rec.notes.push(
            `${n}. pulumi up -s ${stack}: bucket ${declaredBucket(step) ?? "none"}, replication ${step.replication ? `into ${[...new Set(step.replication.rules.map((r) => r.destinationBucket))].join(", ")}` : "not yet"}, ` +
                `Cluster ${cluster ? `${cluster.name} (${cluster.writable ? "primary" : `replica of ${cluster.replicaOf}`}, ${cluster.bootstrap.method})` : "not yet"}; bootstrap output: ${step.outputs.bootstrap}`,
        );
        const withCluster = created.length === 0 ? "" : cluster?.writable ? " (incl. the Cluster and its immediate base backup)" : " (incl. the Cluster)";
        await rec.step(`${n}. apply what pulumi up -s ${stack} declares${withCluster}`, () => local.apply(step));
        if (!idempotence) continue;
        const again = await rec.step(`${n}. pulumi up -s ${stack} again (idempotence)`, async () => state.run({ stack }, await local.refresh()));
        const diff = declarationDiff(step, again);
        rec.check(`${n}. running pulumi up -s ${stack} again declares the same resources`, diff.length === 0, diff.length === 0 ? `${step.resources.size} resources, same inputs` : `changed: ${diff.join(", ")}`);
    }
    for (const stack of new Set(FIRST_DEPLOYMENT_SEQUENCE)) {
        const bootstrap = String(state.declared[stack]?.outputs.bootstrap);
        rec.check(`the bootstrap output of ${stack} is complete after the sequence`, bootstrap === "complete", bootstrap);
    }
    return { local, state };
}

export async function firstDeployment(ctx: ScenarioContext): Promise<Measurement> {
    const { settings: s, rec, teardown } = ctx;
    const { local } = await deployFromNothing(ctx);
    const alerts = watchDeployment(ctx, local);
    alerts.notExpected("any", "a first deployment is not a fault: once both clusters run, nothing may fire.");
    await alerts.healthy();
    const clusters = [...local.regions.values()].map((r) => r.cluster).filter((c) => c !== undefined);
    const primary = clusters.find((c) => c.declared.writable);
    const standby = clusters.find((c) => !c.declared.writable);
    if (!primary || !standby) throw new Error(`after the sequence expected a primary and a replica Cluster, got ${clusters.map((c) => c.declared.name).join(", ") || "none"}`);
    if (standby.declared.streams) {
        await rec.step(`${standby.declared.name} streams from ${primary.declared.name}`, () =>
            waitUntil("the replica to stream", async () => (await streamingStatus(standby.server)) === "streaming", 60000),
        );
    } else {
        rec.notes.push(`The stacks declare no streaming: ${standby.declared.name} follows ${primary.declared.name} through the replicated archive only.`);
    }
    const target = { host: primary.server.host, port: primary.server.port, user: primary.server.superuser, password: primary.server.password };
    const workload = await Workload.start(target, s.rate, rec.start);
    teardown.add("stop the workload", () => workload.stop());
    await sleep(0.3 * s.durationSeconds * 1000);
    await workload.stop();
    const last = workload.lastSeq;
    const standbyTarget = { ...target, host: standby.server.host, port: standby.server.port };
    const reachedMs = rec.now();
    await rec.step(`the last write on ${primary.declared.name} (seq ${last}) reaches ${standby.declared.name}`, () =>
        waitUntil(`seq ${last} on the replica`, async () => (await presentSeqs(standbyTarget)).has(last), 120000),
    );
    const lagSeconds = (rec.now() - reachedMs) / 1000;
    const present = await presentSeqs(standbyTarget);
    const missing = workload.acked.filter((a) => !present.has(a.seq));
    rec.check("every acknowledged write reached the replica", missing.length === 0, `${workload.acked.length - missing.length} of ${workload.acked.length}`);
    return {
        passSummary: `${FIRST_DEPLOYMENT_SEQUENCE.length} steps (${FIRST_DEPLOYMENT_SEQUENCE.join(", ")}), none declaring what would fail, each idempotent; ${workload.acked.length} writes on ${primary.declared.name} reached ${standby.declared.name} (the last ${lagSeconds.toFixed(2)} s after the load stopped)`,
        commitsMs: workload.acked.map((a) => a.ackMs),
        lostMs: missing.map((a) => a.ackMs),
        alerts: await alerts.measurement(),
    };
}
