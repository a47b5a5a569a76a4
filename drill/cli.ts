// `npm run drill`: a real failover and restore, locally, measured against the stack's targets.
import "../tools/sourceMaps";
import { Command, InvalidArgumentError } from "commander";
import { listStacks } from "../config";
import { preflight } from "./preflight";
import { toMarkdown, writeReport } from "./report";
import { runDrill, SCENARIO_NAMES } from "./run";

function positive(name: string) {
    return (value: string) => {
        const n = Number(value);
        if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
        return n;
    };
}

const program = new Command()
    .name("drill")
    .description("Run a local DR drill: real PostgreSQL, barman-cloud and a local S3 endpoint; measure RPO and RTO against the stack's targets")
    .option("-s, --stack <stack>", `stack whose settings to use (${listStacks().join(", ")})`, "primary")
    .option("--scenario <name...>", `scenarios to run (default: all): ${SCENARIO_NAMES.join(", ")}`)
    .option("--rate <commits/s>", "workload commits per second", positive("--rate"), 100)
    .option("--duration <seconds>", "seconds of load per scenario", positive("--duration"), 20)
    .option("--replication-lag <seconds>", "lag of the S3 replication emulation", positive("--replication-lag"), 2)
    .option("--time-scale <n>", "production seconds per drill second for archive timing and RPO targets", positive("--time-scale"), 30)
    .option("-o, --out <dir>", "where to write drill-report.md, drill-report.json and drill-timeline.svg", "drill-report")
    .parse();

const o = program.opts<{ stack: string; scenario?: string[]; rate: number; duration: number; replicationLag: number; timeScale: number; out: string }>();
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

// Ctrl-C or a CI timeout: every server, proxy and temp dir the drill started is on
// processTeardown (local/teardown.ts), which stops them all on SIGINT/SIGTERM/SIGHUP and exits.

(async () => {
    if (!listStacks().includes(o.stack)) {
        throw new Error(`--stack: no Pulumi.${o.stack}.yaml; known stacks: ${listStacks().join(", ")}`);
    }
    preflight(log);
    const report = await runDrill({
        stack: o.stack,
        scenarios: o.scenario,
        rate: o.rate,
        durationSeconds: o.duration,
        replicationLagSeconds: o.replicationLag,
        timeScale: o.timeScale,
        log,
    });
    const files = writeReport(report, o.out);
    console.log(`\n${toMarkdown(report)}`);
    console.log(`report: ${files.markdown}, ${files.json}, ${files.svg}`);
    process.exit(report.status === "PASS" ? 0 : 1);
})().catch((error) => {
    console.error(`drill: ${error instanceof Error ? error.message : error}`);
    process.exit(2);
});
