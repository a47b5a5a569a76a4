// `npm run bench` (not part of the tests): the one entry point and argument parser of the bench.
// Parts: rpo (region-loss RPO/RTO per commit rate, bench/rpo.ts), restore (base backup restore
// time and size per compression next to a plain copy, by phase, bench/restore.ts) and pitr
// (point-in-time restore time versus database size, bench/pitr.ts). Prints tables, writes JSON.
// Figures, not assertions.
import "../tools/sourceMaps";
import { Command, InvalidArgumentError, Option } from "commander";
import * as fs from "fs";
import { parseConfig } from "../config";
import { readStackConfig } from "../config";
import { preflight } from "../drill/preflight";
import { CODEC_NAMES, CodecName } from "./codecs";
import { formatPhases } from "./phases";
import { benchPitr, DEFAULT_PITR_SIZES_MIB, formatPitr } from "./pitr";
import { benchRestore, DEFAULT_SIZE_MIB } from "./restore";
import { formatRestore } from "./restoreReport";
import { benchRpo, formatRpo } from "./rpo";
import { machineInfo } from "./support";

const PARTS = ["rpo", "restore", "pitr"] as const;
type Part = (typeof PARTS)[number];

function positiveInt(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
        throw new InvalidArgumentError("expected a positive integer.");
    }
    return n;
}

function listOf<T extends string>(allowed: readonly T[]) {
    return (value: string): T[] => {
        const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
        const bad = items.filter((s) => !allowed.includes(s as T));
        if (items.length === 0 || bad.length > 0) {
            throw new InvalidArgumentError(`${bad.length ? `unknown: ${bad.join(", ")}; ` : ""}allowed: ${allowed.join(", ")} (comma-separated).`);
        }
        return items as T[];
    };
}

function sizes(min: number) {
    return (value: string): number[] => {
        const list = value.split(",").map(Number);
        if (list.some((n) => !Number.isInteger(n) || n < min)) {
            throw new InvalidArgumentError(`expected whole MiB of at least ${min}, comma-separated.`);
        }
        return list;
    };
}

const program = new Command()
    .name("bench")
    .description("Measure region-loss RPO/RTO, restore time per compression and point-in-time restore time on this machine")
    .addOption(new Option("--only <parts>", `parts to run, comma-separated: ${PARTS.join(", ")}`).argParser(listOf(PARTS)).default([...PARTS], "all"))
    .option("--rates <list>", "rpo: commit rates per second", sizes(1), [10, 100, 1000])
    .option("--duration <seconds>", "rpo: seconds of load per run", positiveInt, 20)
    .option("--size <MiB>", "restore: table data to load", (v) => sizes(16)(v)[0], DEFAULT_SIZE_MIB)
    .option("--compressions <list>", "restore: compressions to compare", listOf(CODEC_NAMES), [...CODEC_NAMES])
    .option("--pitr-sizes <list>", "pitr: database sizes in MiB", sizes(16), DEFAULT_PITR_SIZES_MIB)
    .option("--repeats <n>", "restore/pitr: runs per measurement (the median counts)", positiveInt, 3)
    .option("-o, --out <file>", "JSON results", "bench-results.json")
    .parse();
const o = program.opts<{
    only: Part[];
    rates: number[];
    duration: number;
    size: number;
    compressions: CodecName[];
    pitrSizes: number[];
    repeats: number;
    out: string;
}>();
const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);

(async () => {
    // The drill's tools and packages (PostgreSQL, barman-cloud and its compressions, moto_server).
    preflight(log);
    // The shipped stack's settings: what the figures are judged for.
    const shipped = parseConfig(readStackConfig("primary"), "primary").postgres;
    const results: Record<string, unknown> = { machine: await machineInfo(), startedAt: new Date().toISOString(), options: o };
    if (o.only.includes("rpo")) {
        const rpo = await benchRpo({ rates: o.rates, durationSeconds: o.duration, log });
        console.log(`\n## Region-loss RPO and RTO (drill scenarios, time scale 1:30, replication lag 2 s)\n\n${formatRpo(rpo)}\n`);
        results.rpo = rpo;
    }
    if (o.only.includes("restore")) {
        const restore = await benchRestore({ sizeMiB: o.size, repeats: o.repeats, compressions: o.compressions, shipped: shipped.backupCompression, log });
        console.log(`\n## Restore by compression\n\n${formatRestore(restore)}\n\nPhases of this part:\n\n${formatPhases(restore.phases)}\n`);
        results.restore = restore;
    }
    if (o.only.includes("pitr")) {
        const pitr = await benchPitr({
            sizesMiB: o.pitrSizes,
            repeats: o.repeats,
            walCompression: shipped.walCompression,
            dataCompression: shipped.backupCompression,
            log,
        });
        console.log(`\n## Point-in-time restore versus size\n\n${formatPitr(pitr)}\n\nPhases of this part:\n\n${formatPhases(pitr.phases)}\n`);
        results.pitr = pitr;
    }
    fs.writeFileSync(o.out, JSON.stringify(results, null, 2) + "\n");
    console.log(`wrote ${o.out}`);
    process.exit(0);
})().catch((error) => {
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    process.exit(2);
});
