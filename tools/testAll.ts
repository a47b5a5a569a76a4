// `npm test`: runs every suite (each one also runs alone as its `npm run` script), prints each suite's output,
// and ends with a table of each suite's result and wall time, then `N passed, N failed` (tests) on the last line.
//
// Policy: run every suite, fail at the end (exit 1 if any suite failed), so one run shows every failure.
// Suites that start no server and share nothing (typecheck, unit, policies, policy:check, alerts) run
// `--jobs` at a time, their output printed whole as each one ends; the suites that start servers (PostgreSQL,
// moto_server, Prometheus) run in two stages: integration and monitoring together (each on its own servers and ports),
// then the drill alone, its output streamed live. The monitoring suite mostly waits on a real Prometheus's
// clock (35 s of wall for 9 CPU-s); beside integration, that stage took 119 s instead of 111 + 35, and npm test
// 375 s instead of 404 (2026-11-25, 602 CPU-s, after tools/sourceMaps.ts). Tried before that change, it gained
// nothing: the niced unit suite, then slower, ran on into the drill stage and slowed it.
// Within the integration suite, mocha runs two files at a time (`--parallel --jobs 2` in package.json):
// those tests mostly wait (archive_timeout, barman-cloud's Python start-up, moto), each file starts its
// own servers on its own ports, and each mocha worker only checks for leftovers of the processes it
// started itself (local/processes.ts tags them per process). Three at a time was measured and not kept
// (2026-12-07, fresh clones): integration took 101.6-105.0 s instead of 118, but the niced suites, starved in
// that stage, ran on into the drill's (unit until 189-239 s instead of 141) and stretched every scenario there:
// npm test 367.5 and 376.4 s for 635-663 CPU-s. So was a third drill worker (the drill 272 s and 456 CPU-s against
// 261 s and 376 CPU-s at two). The drill suite runs its files two at a time as well: its ten scenarios are split
// into four groups (test/drill/scenarios.ts) and its judgement tests into three files, each of 30-90 s, so the
// two workers end close together. Measured on this 2-core machine
// (2026-11-25): the drill took 259 s instead of 426, npm test 400 s instead of 571. Tried once before, on a
// machine 2.3 times slower (7779328), a second file's load pushed a log-shipping scenario past its predicted
// bound and a restore verification past its timeout. Both bound terms are now measured up to the disaster, the
// upload since 8870dc6 and the replication (drill/replicator.ts copyAllowanceSeconds), so load widens the bound
// by what it measurably slowed; and backup-verification stops its load before the jobs, so the physical
// verification no longer chases a growing archive (drill/scenarios/backupVerification.ts). Also measured, and
// not kept: integration, monitoring and the drill all at once saved 29 s more but took
// 706 CPU-s instead of 615 and left the niced suites starved (typecheck 245 s instead of 62).
// The unit suite runs without mocha's --parallel: two suites at a time already keep both cores busy, and extra
// mocha workers (each loading ts-node and the Pulumi SDK) only oversubscribe them (measured: see the PR report);
// each worker would also answer the program runs it repeats on its own (tools/offline/runCache.ts is per process).
//
// The suites without servers run beside the server suites (which start at once, stage by stage), at the lowest
// CPU priority (`nice -n 19`): the server suites leave a third to a half of the machine idle while they
// wait on archive_timeout, barman-cloud and PostgreSQL (the table's CPU against 2 x wall time), and the scheduler gives their processes the CPU first
// whenever they want it (CFS weight 15 at nice 19 against 1024 at nice 0), so the niced suites use only
// what would be idle. `--no-overlap` runs the suites without servers first instead, two at a time.
// What they get is still whatever the machine leaves over, so in the background their wall-clock timeouts are
// multiplied (BACKGROUND_TIMEOUT_SCALE, test/support/timeouts.ts): waiting for the CPU is not a failure.
//
// Every mocha suite ends with process.exit() once its last test is done (`"exit": true` in .mocharc.json; the
// workers of a --parallel suite always end so: workerpool's terminate message makes each call process.exit).
// Seen on this machine (Node v20.20.2, 2026-11-25): the drill suite printed "18 passing" and then spun one
// core for 4 minutes without exiting, until I killed it. gdb put its main thread in node::FreeEnvironment ->
// Environment::CleanupHandles (src/env.cc), which calls uv_run(UV_RUN_ONCE) until its own counts of handles
// and requests reach zero; libuv had no active handle or request left (two half-closed TCP handles, neither
// active nor closing), so each call returned at once and the loop never ended. Both had shut down their write side
// and were never closed. A socket reset while its shutdown is in flight is left exactly so (libuv refuses the
// reset with EINVAL, Node marks the handle closing anyway; a reproduction left one with the same flags and spun
// the same way), and the drill's TCP proxy reset every socket when it cut a link, half-closed ones included:
// local/tcpProxy.ts cutSocket now closes those instead (test/unit/tcpProxyCut.test.ts shows both). Any other leak
// would reach the same loop, so the suites still do not rely on draining. That is the path a Node process
// takes when its event loop drains by itself; process.exit() leaves through
// DefaultProcessExitHandlerInternal (src/api/environment.cc), which exits without that cleanup. Other
// reports of the same spin on Node 16-20: nodejs/node#47748. Nothing is lost by not waiting: each test
// awaits its own teardown, afterEach checks that nothing it started is left (local/processes.ts), and the
// process's exit hook (local/teardown.ts) still runs on process.exit().

import { ChildProcess, spawn } from "child_process";
import { Command, InvalidArgumentError } from "commander";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TIMEOUT_SCALE_ENV } from "../test/support/timeouts";
import { cpuUnmeasurable, measuredCommand } from "./suiteCpu";
import { closingLine, mochaCounts, parseCpuSeconds, seconds, succeeded, SuiteOutcome, summaryTable } from "./testSummary";

interface Suite {
    name: string;
    /** The package.json script that runs it: the one definition of what the suite is. */
    script: string;
    /** Starts no server and shares no state with other suites: may run beside another such suite. */
    isolated: boolean;
    /** Runs mocha, which takes `--timeout` (its default for tests that set none). */
    mocha: boolean;
    /** Suites with servers only: those of one stage run at the same time, the stages one after another. */
    stage?: number;
}

const SUITES: Suite[] = [
    { name: "typecheck", script: "typecheck", isolated: true, mocha: false },
    { name: "unit", script: "test:unit", isolated: true, mocha: true },
    { name: "policies", script: "test:policies", isolated: true, mocha: true },
    { name: "policy:check", script: "policy:check", isolated: true, mocha: false },
    { name: "alerts", script: "test:alerts", isolated: true, mocha: true },
    // Integration first, the drill last. Tried the other way round (the drill first, so the niced suites would
    // use the CPU it leaves idle): the drill took 673 s instead of 618 beside them and integration gained nothing
    // alone (221 s against 232), 931 s in all against 891.
    { name: "integration", script: "test:integration", isolated: false, mocha: true, stage: 1 },
    { name: "monitoring", script: "test:monitoring", isolated: false, mocha: true, stage: 1 },
    { name: "drill", script: "test:drill", isolated: false, mocha: true, stage: 2 },
];

const running = new Set<ChildProcess>();

/** The lowest CPU priority (nice(1)): what suites without servers run at beside the server suites. */
const BACKGROUND_NICENESS = 19;

/**
 * What a background suite's timeouts are multiplied by (test/support/timeouts.ts). At nice 19 a suite gets
 * only the CPU the others leave idle; alone with the server suites that kept promtool's rule tests at
 * 35-71 s of their 120 s, but a second niced job beside them stretched one to 153 s and failed it. Ten times
 * the timeout still ends a real hang within the run, and covers a background suite slowed ten-fold.
 */
const BACKGROUND_TIMEOUT_SCALE = 10;

/** Mocha's default timeout, from the one place it is set (.mocharc.json). */
function mochaDefaultTimeoutMs(): number {
    const rc = JSON.parse(fs.readFileSync(path.join(__dirname, "..", ".mocharc.json"), "utf8")) as { timeout?: unknown };
    if (typeof rc.timeout !== "number") throw new Error(".mocharc.json: expected a numeric \"timeout\" (mocha's default, in ms)");
    return rc.timeout;
}

/**
 * Each suite's CPU time, its servers and tools included (orphans too: tools/suiteCpu.ts), goes in the table,
 * so the run shows how much of its wall time is work and how much waiting.
 */
const cpuUnmeasured = cpuUnmeasurable();
const measureCpu = cpuUnmeasured === undefined;
const cpuDir = measureCpu ? fs.mkdtempSync(path.join(os.tmpdir(), "drstack-test-cpu-")) : undefined;

/**
 * With the kernel's autogroups on (/proc/sys/kernel/sched_autogroup_enabled, the default on Debian), a process
 * that calls setsid() gets a scheduling group of its own, and CFS shares the CPU between groups before it
 * looks at a process's nice value: `nice` alone then only ranks a suite's processes among themselves, and a
 * "niced" suite still took its full half of the CPU from the integration suite (measured: 254 s instead of
 * 169 s of wall time). Each suite runs in its own session (spawn's `detached`), so its group's nice is set
 * too (sched(7), "The autogroup feature": writing a nice value to /proc/<pid>/autogroup; kernel/sched/autogroup.c).
 * Where the file does not exist (no autogroups), `nice` alone already does the work.
 */
function lowerAutogroup(pid: number | undefined, niceness: number): void {
    if (pid === undefined) return;
    try {
        fs.writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
    } catch {
        // No autogroups on this kernel, or the suite has already ended.
    }
}

/**
 * Runs one suite as `npm run -s <script>` in its own process group, at `niceness` when given;
 * streams or buffers its output.
 */
function runSuite(suite: Suite, stream: boolean, niceness?: number): Promise<SuiteOutcome> {
    const started = Date.now();
    const background = niceness !== undefined;
    // In the background the suite's timeouts stretch with its share of the CPU (BACKGROUND_TIMEOUT_SCALE):
    // mocha's default through --timeout, the tests' own through the environment (test/support/timeouts.ts).
    const timeoutArgs = background && suite.mocha ? ["--", "--timeout", String(mochaDefaultTimeoutMs() * BACKGROUND_TIMEOUT_SCALE)] : [];
    const env = background ? { ...process.env, [TIMEOUT_SCALE_ENV]: String(BACKGROUND_TIMEOUT_SCALE) } : process.env;
    const npm = ["npm", "run", "-s", suite.script, ...timeoutArgs];
    const cpuFile = cpuDir && path.join(cpuDir, suite.name.replace(/[^a-z0-9]/gi, "_"));
    const measured = cpuFile ? measuredCommand(npm, cpuFile) : npm;
    const command = niceness === undefined ? measured : ["nice", "-n", String(niceness), ...measured];
    return new Promise((resolve) => {
        const child = spawn(command[0], command.slice(1), { detached: true, env, stdio: ["ignore", "pipe", "pipe"] });
        running.add(child);
        if (niceness !== undefined) lowerAutogroup(child.pid, niceness);
        const chunks: Buffer[] = [];
        const collect = (target: NodeJS.WriteStream) => (d: Buffer) => {
            chunks.push(d);
            if (stream) target.write(d);
        };
        child.stdout!.on("data", collect(process.stdout));
        child.stderr!.on("data", collect(process.stderr));
        const finish = (code: number | null) => {
            running.delete(child);
            const output = Buffer.concat(chunks).toString("utf8");
            if (!stream) process.stdout.write(output);
            const cpuMs = cpuFile && fs.existsSync(cpuFile) ? parseCpuSeconds(fs.readFileSync(cpuFile, "utf8")) : undefined;
            const outcome: SuiteOutcome = { name: suite.name, script: suite.script, code, ms: Date.now() - started, tests: mochaCounts(output), cpuMs };
            console.log(`== ${suite.name} ${code === 0 ? "passed" : "FAILED"} in ${seconds(outcome.ms)}\n`);
            resolve(outcome);
        };
        child.on("error", (err) => {
            chunks.push(Buffer.from(`could not start npm: ${err.message}\n`));
            finish(127);
        });
        child.on("close", (code) => finish(code));
    });
}

/** The suites with servers grouped by stage, in stage order. */
function stagesOf(suites: Suite[]): Suite[][] {
    const stages = [...new Set(suites.map((s) => s.stage ?? 0))].sort((a, b) => a - b);
    return stages.map((stage) => suites.filter((s) => (s.stage ?? 0) === stage));
}

/** Runs the suites with servers stage by stage, the suites of a stage at the same time; outcomes in the order of `suites`. */
async function runStages(suites: Suite[]): Promise<SuiteOutcome[]> {
    const outcomes: SuiteOutcome[] = [];
    for (const members of stagesOf(suites)) {
        outcomes.push(...(await runPool(members, members.length, true)));
    }
    return suites.map((s) => outcomes.find((o) => o.name === s.name)!);
}

/** "integration + monitoring, then drill": the server suites' stages, for the table's note. */
function stagesLine(suites: Suite[]): string {
    return stagesOf(suites).map((members) => members.map((s) => s.name).join(" + ")).join(", then ");
}

/** Runs suites at most `jobs` at a time; outcomes come back in the order of `suites`. Streams output only when alone. */
async function runPool(suites: Suite[], jobs: number, alone: boolean, niceness?: number): Promise<SuiteOutcome[]> {
    const outcomes: SuiteOutcome[] = new Array(suites.length);
    let next = 0;
    const worker = async () => {
        while (next < suites.length) {
            const i = next++;
            console.log(`== ${suites[i].name} (npm run ${suites[i].script}) started${niceness === undefined ? "" : ` at nice ${niceness}`}`);
            outcomes[i] = await runSuite(suites[i], alone && jobs === 1, niceness);
        }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, suites.length) }, worker));
    return outcomes;
}

function positiveInt(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a whole number of at least 1`);
    return n;
}

async function main(): Promise<number> {
    const program = new Command()
        .name("test")
        .description("Run every test suite, then print a table of each suite's result and wall time")
        .option("-j, --jobs <n>", "isolated suites (no servers) run this many at a time", positiveInt, 2)
        .option("--only <names>", `comma-separated suites to run, of: ${SUITES.map((s) => s.name).join(", ")}`)
        .option("--no-overlap", `run the suites without servers first, instead of beside the server suites at nice ${BACKGROUND_NICENESS} (see the file's header)`)
        .parse();
    const { jobs, only, overlap } = program.opts<{ jobs: number; only?: string; overlap: boolean }>();
    let suites = SUITES;
    if (only !== undefined) {
        const names = only.split(",").map((s) => s.trim());
        const unknown = names.filter((n) => !SUITES.some((s) => s.name === n));
        if (unknown.length > 0) {
            console.error(`--only: unknown suite(s) ${unknown.join(", ")}; the suites are ${SUITES.map((s) => s.name).join(", ")}`);
            return 2;
        }
        suites = SUITES.filter((s) => names.includes(s.name));
    }

    const started = Date.now();
    const isolated = suites.filter((s) => s.isolated);
    const servers = suites.filter((s) => !s.isolated);
    let outcomes: SuiteOutcome[];
    let note: string;
    if (overlap) {
        const [background, foreground] = await Promise.all([runPool(isolated, jobs, servers.length === 0, BACKGROUND_NICENESS), runStages(servers)]);
        outcomes = [...background, ...foreground];
        note = `suites without servers ${jobs} at a time at nice ${BACKGROUND_NICENESS}, beside the others (stages: ${stagesLine(servers)})`;
    } else {
        outcomes = [...(await runPool(isolated, jobs, true)), ...(await runStages(servers))];
        note = `suites without servers ${jobs} at a time, then the others (stages: ${stagesLine(servers)})`;
    }
    console.log(summaryTable(outcomes, Date.now() - started, note, os.availableParallelism()));
    if (cpuUnmeasured) console.log(cpuUnmeasured);
    if (cpuDir) fs.rmSync(cpuDir, { recursive: true, force: true });
    console.log(closingLine(outcomes));
    return outcomes.every(succeeded) ? 0 : 1;
}

// Ctrl-C or a CI cancel: stop every suite's whole process group (servers included), then exit.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        for (const child of running) {
            try {
                process.kill(-child.pid!, signal);
            } catch {
                // already gone
            }
        }
        if (cpuDir) fs.rmSync(cpuDir, { recursive: true, force: true });
        process.exit(130);
    });
}

main().then(
    (code) => process.exit(code),
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
