// The offline policy check of the real stacks: the shipped stacks pass, and loosening each
// guarded setting in a copy of a stack's config fails the check with a message naming it.
import { strict as assert } from "assert";
import { parseConfig, readStackConfig } from "../../config";
import { clusterObjectNames } from "../../model/contract";
import { checkStack, formatResults, readPackConfig, StackResult } from "../../tools/policyCheck";

const pack = readPackConfig();

function mandatory(result: StackResult): string[] {
    return result.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => `${v.policy}: ${v.message}`);
}

describe("offline policy check of the shipped stacks", () => {
    for (const stack of ["primary", "dr"]) {
        it(`${stack} passes every mandatory policy`, async () => {
            const result = await checkStack(stack, pack);
            assert.deepEqual(mandatory(result), []);
            assert.equal(result.failed, 0);
        });
    }

    it("the shipped stacks stream from the peer's read-write endpoint with verify-full and the contract's Secret", () => {
        for (const [stack, peer] of [["primary", "dr"], ["dr", "primary"]]) {
            const c = parseConfig(readStackConfig(stack), stack);
            const p = parseConfig(readStackConfig(peer), peer);
            assert.equal(c.streaming?.sslmode, "verify-full", stack);
            assert.equal(c.streaming?.tlsSecretName, clusterObjectNames(c.names.peerCluster).streamingReplicaTls, stack);
            assert.equal(c.streaming?.host, p.streaming?.advertisedHost, `${stack} dials the name ${peer}'s server certificate carries`);
            assert.match(c.streaming!.host, new RegExp(`^${clusterObjectNames(c.names.peerCluster).rwService}\\.`));
        }
    });

    it("region-rpo-needs-streaming is mandatory in the pack's config", () => {
        assert.equal(pack["region-rpo-needs-streaming"], "mandatory");
    });

    it("stacks with point-in-time restores pass: the restore clusters are held to their own policy, not the archiving ones", async () => {
        const hourAgo = new Date(Date.now() - 3600_000).toISOString();
        for (const [stack, source] of [["primary", "self"], ["dr", "peer"]]) {
            const result = await checkStack(stack, pack, { "drstack:restore": [{ name: "orders", target: { time: hourAgo }, source }, { name: "now", target: "latest", source }] });
            assert.deepEqual(mandatory(result), [], stack);
            assert.ok(result.violations.every((v) => !/restore/.test(v.message)), stack);
        }
    });
});

describe("a stack whose region RPO its topology cannot meet fails the check", () => {
    for (const stack of ["primary", "dr"]) {
        it(`${stack} with streaming removed: region-rpo-needs-streaming fails, mandatory`, async () => {
            const result = await checkStack(stack, pack, { "drstack:streaming": undefined });
            const violation = result.violations.find((v) => v.policy === "region-rpo-needs-streaming");
            assert.equal(violation?.enforcementLevel, "mandatory");
            assert.match(violation!.message, /bounds region-loss data loss at 20m .*target rpoRegion 5m needs streaming replication \[stack setting: drstack:streaming\]/);
            assert.ok(result.failed > 0);
            assert.match(formatResults([result]), new RegExp(`stack ${stack}: FAIL \\(1 mandatory, 0 advisory\\)`));
        });
    }
});

describe("loosening a guarded setting fails the check, naming the setting and the target", () => {
    const cases: { setting: string; stack: string; overrides: Record<string, unknown>; expect: RegExp[] }[] = [
        {
            setting: "a looser data-corruption RPO (longer archive_timeout, later archive-age alert)",
            stack: "primary",
            overrides: { "drstack:rpo.data-corruption": "10m" },
            expect: [
                /wal-archiving-within-rpo: acme-orders-postgres-cluster \(Cluster\): postgresql\.parameters\.archive_timeout is "570s"; the limit is 4m30s \(target rpoDataCorruption 5m/,
                /alert-thresholds-within-rpo: .*alert DrWalArchiveStale fires only after 10m \(threshold 9m \+ for: 1m\); the limit is 5m \(target rpoDataCorruption\)/,
            ],
        },
        {
            setting: "a looser region RPO on the standby (later lag alert)",
            stack: "dr",
            overrides: { "drstack:rpo.region": "15m" },
            expect: [/alert-thresholds-within-rpo: .*alert DrReplicaLagAboveRpo fires only after 15m \(threshold 13m \+ for: 2m\); the limit is 5m \(target rpoRegion\)/],
        },
        {
            setting: "replication switched off on the primary",
            stack: "primary",
            overrides: { "drstack:replication.enabled": false },
            expect: [/backup-replication-on-primary: .*this stack is primary in us-east-1 but its backup bucket does not replicate \(drstack:replication\.enabled is false\)/],
        },
        {
            setting: "Replication Time Control switched off",
            stack: "primary",
            overrides: { "drstack:replication.replicationTimeControl": false },
            expect: [/backup-replication-rules: .*S3 Replication Time Control is off \(destination\.replicationTime is null\); it must be Enabled with 15 minutes \(target requireReplicationTimeControl\) \[stack setting: drstack:replication\.replicationTimeControl\]/],
        },
        {
            setting: "a shorter recovery window (retention)",
            stack: "primary",
            overrides: { "drstack:recoveryWindow": "14d" },
            expect: [
                /wal-archive-retention: .*spec\.retentionPolicy is "14d"; the limit is at least 30d \(target recoveryWindow 30d\)/,
                /backup-bucket-noncurrent-retention: .*noncurrentDays is 14; the limit is at least 30 \(target recoveryWindow 30d\)/,
            ],
        },
        {
            setting: "Object Lock removed",
            stack: "dr",
            overrides: { "drstack:backupBucket.objectLock": undefined },
            expect: [/backup-bucket-object-lock: .*objectLockEnabled is false; it must be true \(target requireObjectLock\)/, /backup-bucket-complete: .*has no Object Lock configuration/],
        },
        {
            setting: "weekly instead of daily base backups",
            stack: "primary",
            overrides: { "drstack:backups.baseBackupSchedule": "0 0 2 * * 0" },
            expect: [/base-backup-frequency: .*spec\.schedule "0 0 2 \* \* 0" leaves up to 7d between base backups; the limit is 1d/],
        },
        {
            setting: "monthly instead of weekly restore verification",
            stack: "dr",
            overrides: { "drstack:backups.verificationSchedule": "0 5 1 * *" },
            expect: [/restore-verification-scheduled: .*spec\.schedule "0 5 1 \* \*" leaves up to 31d between verifications; the limit is 7d/],
        },
    ];
    for (const c of cases) {
        it(`${c.setting} (${c.stack})`, async () => {
            const result = await checkStack(c.stack, pack, c.overrides);
            const found = mandatory(result);
            for (const expected of c.expect) {
                assert.ok(found.some((m) => expected.test(m)), `expected ${expected}\nin:\n${found.join("\n")}`);
            }
            assert.ok(result.failed > 0);
            assert.match(formatResults([result]), new RegExp(`stack ${c.stack}: FAIL`));
        });
    }
});
