// The pack's targets are stated once (model/targets.ts); their defaults must be what the shipped
// stacks declare, so `npm run policy:check` with the shipped policy-config.json checks the stacks
// against their own targets. And every target names a real stack setting.
import { strict as assert } from "assert";
import { listStacks, parseConfig, readStackConfig, schema } from "../../config";
import { parseDuration } from "../../model/duration";
import { TARGETS } from "../../model/targets";

describe("policies: targets", () => {
    for (const stack of listStacks()) {
        it(`defaults agree with the ${stack} stack's settings`, () => {
            const c = parseConfig(readStackConfig(stack), stack);
            assert.equal(parseDuration(String(TARGETS.rpoRegion.default)), c.rpo.regionSeconds);
            assert.equal(parseDuration(String(TARGETS.rpoDataCorruption.default)), c.rpo.dataCorruptionSeconds);
            assert.equal(parseDuration(String(TARGETS.rtoRegion.default)), c.rto.regionSeconds);
            assert.equal(parseDuration(String(TARGETS.rtoDataCorruption.default)), c.rto.dataCorruptionSeconds);
            assert.equal(parseDuration(String(TARGETS.recoveryWindow.default)), c.recoveryWindowSeconds);
            assert.equal(parseDuration(String(TARGETS.walUploadAllowance.default)), c.walUploadAllowanceSeconds);
            assert.equal(TARGETS.requireReplicationTimeControl.default, c.replication.replicationTimeControl);
            assert.equal(TARGETS.requireObjectLock.default, c.backupBucket.objectLock !== undefined);
        });
    }

    it("each target names a setting of the stack schema", () => {
        for (const [key, target] of Object.entries(TARGETS)) {
            let node: any = schema;
            for (const part of target.setting.split(".")) {
                while (node?.def?.innerType ?? node?._zod?.def?.innerType) node = node.def?.innerType ?? node._zod.def.innerType;
                node = node?.shape?.[part];
                assert.ok(node, `target ${key}: drstack:${target.setting} is not a setting`);
            }
        }
    });
});
