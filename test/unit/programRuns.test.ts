// The offline program runner (tools/offline/program.ts) answers identical runs once per process
// (tools/offline/runCache.ts). These tests hold it to what makes that safe: a memoised run is the
// same frozen result, a change to it fails loudly, anything the run reads is part of the key, runs
// that judge restore targets against the clock are always run again, and a run's late RPCs never
// reach the next run's mock monitor.
import { strict as assert } from "assert";
import { COMPONENT_TYPES, configKey, RESOURCE_TYPES } from "../../model/contract";
import { RunCache, RunInputs, runKey } from "../../tools/offline/runCache";
import { declared, DEPLOYED_OBJECTS, DEPLOYED_PEERS } from "../support/mocks";
import { runProgram, stackConfigWith, waitForRPCs } from "../support/program";
import { testTimeout } from "../support/timeouts";

const ROOT_TYPE = "pulumi:pulumi:Stack";

/** A run's data, with live SDK objects (a Resource passed to a component) reduced to their class name. */
function data(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(data);
    if (typeof value === "function") return "<function>";
    if (value === null || typeof value !== "object") return value;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `<${proto.constructor?.name}>`;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, data(v)]));
}

describe("offline program runs are memoised only where that cannot change an answer", function () {
    this.timeout(testTimeout(120_000));

    it("an identical run is the same deep-frozen result, and leaves `declared` as a run would", async () => {
        const first = await runProgram("primary");
        declared.length = 0;
        const again = await runProgram("primary");
        assert.equal(again, first, "the second identical run is answered from memory");
        assert.deepEqual(
            declared.filter((r) => r.type !== ROOT_TYPE).map((r) => `${r.type}::${r.name}`),
            again.resources.map((r) => `${r.type}::${r.name}`),
        );
        const bucket = again.one(RESOURCE_TYPES.bucket);
        assert.throws(() => {
            bucket.inputs.bucket = "changed";
        }, TypeError);
        assert.throws(() => again.resources.push(bucket), TypeError);
        assert.throws(() => {
            again.outputs.role = "standby";
        }, TypeError);
        assert.equal(bucket.inputs.bucket, first.outputs.backupBucket, "the failed writes changed nothing");
        const replication = again.one(COMPONENT_TYPES.replication);
        assert.ok(Object.isFrozen(replication.inputs));
        assert.ok(!Object.isFrozen(replication.inputs.sourceVersioning), "a live SDK Resource passed as an argument is left to the SDK");
    });

    it("a run with restore targets is run again each time (judged against the clock), and is deterministic", async () => {
        const overrides = { "drstack:restore": [{ name: "memo", target: "latest", source: "self" }] };
        const rejections: unknown[] = [];
        const record = (reason: unknown) => rejections.push(reason);
        process.on("unhandledRejection", record);
        try {
            const first = await runProgram("primary", overrides);
            // The second run starts at once on a fresh mock monitor: output registrations the first
            // run left in flight would land there and be rejected as unknown resources.
            const second = await runProgram("primary", overrides);
            // Let anything still queued reach the monitor, and its rejection be reported.
            await waitForRPCs();
            await new Promise((resolve) => setImmediate(resolve));
            assert.notEqual(second, first, "not memoised");
            assert.deepEqual(data(second.resources), data(first.resources));
            assert.deepEqual(data(second.outputs), data(first.outputs));
        } finally {
            process.off("unhandledRejection", record);
        }
        assert.deepEqual(rejections.map(String), [], "no RPC of the first run reached the second run's monitor");
    });

    describe("the memo key holds everything a run reads", () => {
        const inputs = (change: Partial<RunInputs> = {}): RunInputs => ({
            stack: "primary",
            config: stackConfigWith("primary"),
            secretKeys: [],
            peers: structuredClone(DEPLOYED_PEERS),
            objects: structuredClone(DEPLOYED_OBJECTS),
            ...change,
        });

        it("differs by stack, config value, secrecy, peer outputs and bucket objects", () => {
            const base = runKey(inputs());
            assert.equal(runKey(inputs()), base, "the same inputs give the same key");
            const variants = [
                inputs({ stack: "dr" }),
                inputs({ config: { ...stackConfigWith("primary"), [configKey("databasePassword")]: "one" } }),
                inputs({ config: { ...stackConfigWith("primary"), [configKey("databasePassword")]: "two" } }),
                inputs({ config: { ...stackConfigWith("primary"), [configKey("databasePassword")]: "two" }, secretKeys: [configKey("databasePassword")] }),
                inputs({ peers: { ...DEPLOYED_PEERS, "acme/drstack/dr": { role: "primary" } } }),
                inputs({ objects: {} }),
            ];
            const keys = [base, ...variants.map(runKey)];
            assert.equal(new Set(keys).size, keys.length, "every variant has its own key");
        });

        it("has no key for a config with restore targets", () => {
            assert.equal(runKey(inputs({ config: stackConfigWith("primary", { "drstack:restore": [{ name: "x", target: "latest", source: "self" }] }) })), undefined);
        });

        it("keeps the most recently used runs up to its capacity, frozen", () => {
            const cache = new RunCache<{ n: number }>(2);
            cache.set("a", { n: 1 });
            cache.set("b", { n: 2 });
            assert.equal(cache.get("a")?.n, 1);
            cache.set("c", { n: 3 });
            assert.equal(cache.get("b"), undefined, "the least recently used one went");
            assert.equal(cache.get("a")?.n, 1);
            assert.equal(cache.size, 2);
            assert.ok(Object.isFrozen(cache.get("c")));
            cache.set(undefined, { n: 4 });
            assert.equal(cache.size, 2, "an unkeyed run is not kept");
        });
    });
});
