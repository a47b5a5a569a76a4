// `npm run bench` (not part of the tests): RPO/RTO of a region loss at 10/100/1000 commits/s on
// both paths, and restore throughput of a ~1 GB base backup per compression next to a plain copy
// of the data directory. Prints tables, writes bench-results.json. Figures, not assertions.
import { Command } from "commander";
import * as fs from "fs";
import { benchRestoreThroughput, formatRestoreThroughput } from "./restoreThroughput";
import { benchRpo, formatRpo } from "./rpo";
import { machineInfo } from "./support";

const program = new Command()
    .name("bench")
    .option("--only <part>", "rpo | restore (default: both)")
    .option("--rates <list>", "commit rates for the RPO part", "10,100,1000")
    .option("--duration <seconds>", "seconds of load per RPO run", "20")
    .option("--size-mb <n>", "database size for the restore part", "1024")
    .option("--repeats <n>", "restores per compression", "3")
    .option("--compressions <list>", "base backup compressions to measure", "none,gzip,bzip2,snappy")
    .option("-o, --out <file>", "JSON results", "bench-results.json")
    .parse();
const o = program.opts<{ only?: string; rates: string; duration: string; sizeMb: string; repeats: string; compressions: string; out: string }>();
const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => process.exit(130));
}

(async () => {
    const results: Record<string, unknown> = { machine: await machineInfo(), startedAt: new Date().toISOString() };
    if (o.only !== "restore") {
        const rpo = await benchRpo({ rates: o.rates.split(",").map(Number), durationSeconds: Number(o.duration), log });
        console.log(`\n## Region-loss RPO and RTO (drill scenarios, time scale 1:30, replication lag 2 s)\n\n${formatRpo(rpo)}\n`);
        results.rpo = rpo;
    }
    if (o.only !== "rpo") {
        const restore = await benchRestoreThroughput({
            sizeMB: Number(o.sizeMb),
            repeats: Number(o.repeats),
            compressions: o.compressions.split(","),
            log,
        });
        console.log(`\n## Restore throughput\n\n${formatRestoreThroughput(restore)}\n`);
        results.restore = restore;
    }
    fs.writeFileSync(o.out, JSON.stringify(results, null, 2) + "\n");
    console.log(`wrote ${o.out}`);
    process.exit(0);
})().catch((error) => {
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    process.exit(2);
});
