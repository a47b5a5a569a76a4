// The drill's log-shipping bound allows the replication emulation what it was measured to take, never less
// than the lag + 1 s it allowed before (drill/replicator.ts copyAllowanceSeconds, drill/scenarios/regionLoss.ts).

import { strict as assert } from "assert";
import { S3Client } from "@aws-sdk/client-s3";
import { replicationFloor, Replicator } from "../../drill/replicator";

/** A replicator over an empty bucket, stopped at once: the test sets what it measured. */
async function stoppedReplicator(lagSeconds: number): Promise<Replicator> {
    const emptyBucket = { send: async () => ({ Contents: [] }) } as unknown as S3Client;
    const r = new Replicator(emptyBucket, "primary-bucket", [], lagSeconds, 1);
    await r.stop();
    return r;
}

describe("replication allowance of the log-shipping bound (drill/replicator.ts)", () => {
    it("is the lag + the floor when nothing was copied", async () => {
        const r = await stoppedReplicator(2);
        r.longestCycleMs = 5000;
        const a = r.copyAllowanceSeconds(1);
        assert.equal(a.seconds, 3);
        assert.match(a.why, /nothing copied yet/);
    });

    it("stays at the lag + the floor when the copies were faster", async () => {
        const r = await stoppedReplicator(2);
        r.latenciesMs.push(2100, 2300);
        r.longestCycleMs = 400;
        const a = r.copyAllowanceSeconds(1);
        assert.equal(a.seconds, 3);
        assert.match(a.why, /measured: .*2\.7 s\)/);
    });

    it("widens to the slowest copy plus the longest poll cycle when they took longer", async () => {
        const r = await stoppedReplicator(2);
        r.latenciesMs.push(2100, 3400, 2500);
        r.longestCycleMs = 900;
        const a = r.copyAllowanceSeconds(1);
        assert.equal(a.seconds, 4.3);
        assert.match(a.why, /slowest of 3 copies ended 3\.4 s/);
        assert.match(a.why, /longest 0\.9 s/);
    });

    it("is the same lag + floor when there is no replication emulation to measure", () => {
        const a = replicationFloor(2, 1, "no replication emulation");
        assert.equal(a.seconds, 3);
        assert.match(a.why, /replication lag 2 s \+ 1 s .*\(no replication emulation\)/);
    });
});
