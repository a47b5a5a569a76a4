// The warm barman-cloud shortcut (local/warmBarman.ts) changes how fast a server's archive and restore
// commands start, never what they do: through it, barman-cloud-wal-archive and -restore give the same
// files, exit statuses and messages as the tools run cold, each run gets its caller's working directory and
// environment, a tool killed by a signal ends its caller by that signal, and a run in flight ends with its
// caller and with its server.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { MotoServer } from "../../local/motoServer";
import { LOOPBACK } from "../../local/ports";
import { LocalPostgres } from "../../local/postgres";
import { OWNER_TAG_VARIABLE, ProcessInfo, processesWith, runProcess, RunResult, waitFor } from "../../local/processes";
import { systemPath, TOOLS } from "../../local/tools";
import { WARM_TOOLS } from "../../local/warmBarman";

const postmasterPid = (pg: LocalPostgres) => Number(fs.readFileSync(path.join(pg.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);

/** The owner tag a running server's processes carry (local/processes.ts), which names its warm server. */
function ownerTag(pid: number): string {
    const entry = fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").find((e) => e.startsWith(`${OWNER_TAG_VARIABLE}=`));
    assert.ok(entry, `pid ${pid} carries no ${OWNER_TAG_VARIABLE}`);
    return entry.slice(OWNER_TAG_VARIABLE.length + 1);
}

/** One tag's warm server, the per-run processes forked from it, and the tools those forked in turn. */
function warmProcesses(tag: string): { servers: ProcessInfo[]; runs: ProcessInfo[]; tools: ProcessInfo[] } {
    const all = processesWith(`server.py drstack-warm-barman.${tag}`);
    const servers = all.filter((p) => !all.some((q) => q.pid === p.ppid));
    const runs = all.filter((p) => servers.some((s) => s.pid === p.ppid));
    return { servers, runs, tools: all.filter((p) => runs.some((r) => r.pid === p.ppid)) };
}

/**
 * An archive run to the endpoint on `port` in flight through tag's warm server: the callers (client.py,
 * started by the archiver's `sh -c`), their per-run forks and the tools those run; undefined until all are up.
 */
function archiveRunInFlight(tag: string, port: number): { runs: ProcessInfo[]; tools: ProcessInfo[]; callers: ProcessInfo[] } | undefined {
    const { runs, tools } = warmProcesses(tag);
    const callers = processesWith(`${TOOLS.barmanWalArchive.command} --endpoint-url http://${LOOPBACK}:${port}`).filter((p) => p.cmdline.includes("-IS"));
    return tools.length > 0 && callers.length > 0 ? { runs, tools, callers } : undefined;
}

/** barman's log lines start with a timestamp and a pid; the rest must match. */
const withoutStamps = (text: string) => text.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \[\d+\] /gm, "");
/** What client.py says when it runs the tool itself instead. */
const COLD_FALLBACK = /running the tool in a process of its own/;

describe("barman-cloud through the warm shortcut (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(180_000);
    let moto: MotoServer | undefined;
    let pg: LocalPostgres | undefined;
    let hang: net.Server | undefined;
    let segment = "";
    const bucket = "warm-shortcut";
    const serverName = "pg-warm";

    before(async () => {
        const m = (moto = await MotoServer.start());
        await m.createBucket(bucket);
        pg = await LocalPostgres.start({
            name: "warm-archive",
            settings: {
                wal_level: "replica",
                archive_mode: "on",
                archive_command: `${TOOLS.barmanWalArchive.command} --gzip --endpoint-url ${m.endpoint} s3://${bucket}/ ${serverName} %p`,
            },
            env: m.awsEnv(),
        });
    });

    after(async () => {
        await pg?.cleanup();
        await moto?.stop();
        hang?.close();
    });

    /** Runs a command as the server's user in its environment; `cold` takes the shortcuts off PATH. */
    const run = (command: string, args: string[], cold = false): Promise<RunResult> =>
        runProcess(command, args, { env: cold ? { ...pg!.env, PATH: systemPath() } : pg!.env, runAs: pg!.user.runAs, cwd: pg!.baseDir, timeoutMs: 60_000 });

    it("serves exactly the tools the servers' commands call, first on their PATH", () => {
        assert.deepEqual(WARM_TOOLS, [TOOLS.barmanWalArchive.command, TOOLS.barmanWalRestore.command]);
        const [first, ...rest] = pg!.env.PATH!.split(":");
        assert.equal(rest.join(":"), systemPath(), "then the PATH the job scripts get");
        const programs = fs.readdirSync(first).filter((f) => !f.endsWith(".log"));
        assert.deepEqual(programs.sort(), ["client.py", "server.py", ...WARM_TOOLS].sort(), "nothing else is shadowed");
        for (const tool of WARM_TOOLS) assert.equal(fs.realpathSync(path.join(first, tool)), fs.realpathSync(path.join(first, "client.py")), tool);
    });

    it("archives through a warm server, and restores what the tools run cold restore, byte for byte", async () => {
        await pg!.query("CREATE TABLE written AS SELECT 1 AS v"); // WAL to switch away from
        [{ segment }] = await pg!.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
        await waitFor(`segment ${segment} archived`, async () => {
            const [row] = await pg!.query<{ last: string | null }>("SELECT last_archived_wal AS last FROM pg_stat_archiver");
            return row.last !== null && row.last >= segment;
        }, 60_000);
        assert.equal(warmProcesses(ownerTag(postmasterPid(pg!))).servers.length, 1, "the archive command started the server's warm server");
        const restore = (cold: boolean, target: string) =>
            run(TOOLS.barmanWalRestore.command, ["--endpoint-url", moto!.endpoint, `s3://${bucket}/`, serverName, segment, target], cold);
        const [warm, cold] = [await restore(false, "warm"), await restore(true, "cold")];
        assert.equal(warm.code, 0, warm.stderr);
        assert.equal(cold.code, 0, cold.stderr);
        assert.doesNotMatch(warm.stderr, COLD_FALLBACK);
        const [warmBytes, coldBytes] = ["warm", "cold"].map((f) => fs.readFileSync(path.join(pg!.baseDir, f)));
        assert.equal(warmBytes.length, 16 * 1024 * 1024);
        assert.ok(warmBytes.equals(coldBytes), "the same segment");
    });

    it("gives the cold tool's exit status and messages: a missing segment, an unknown option", async () => {
        const cases = [
            ["--endpoint-url", moto!.endpoint, `s3://${bucket}/`, serverName, "0000000100000000000000FE", "missing"],
            ["--no-such-option", `s3://${bucket}/`, serverName, "x", "y"],
        ];
        for (const args of cases) {
            const [warm, cold] = [await run(TOOLS.barmanWalRestore.command, args), await run(TOOLS.barmanWalRestore.command, args, true)];
            assert.notEqual(cold.code, 0, `${args.join(" ")}: the cold tool fails`);
            assert.equal(warm.code, cold.code, `${args.join(" ")}: exit status`);
            assert.equal(withoutStamps(warm.stderr), withoutStamps(cold.stderr), `${args.join(" ")}: messages`);
            assert.equal(warm.stdout, cold.stdout);
        }
    });

    it("runs each tool in its caller's working directory and environment, not the first caller's", async () => {
        // One owner tag for all three runs, so all go to the warm server the first one started (from the base
        // dir, without BARMAN_*). The second restores to a relative path in another directory; the third
        // archives as a barman hook script, which reads the WAL file from BARMAN_FILE and has no file argument.
        const endpoint = `--endpoint-url ${moto!.endpoint} s3://${bucket}/`;
        const script = [
            "set -e",
            `${TOOLS.barmanWalRestore.command} ${endpoint} ${serverName} ${segment} first`,
            "mkdir -p elsewhere && cd elsewhere",
            `${TOOLS.barmanWalRestore.command} ${endpoint} ${serverName} ${segment} ${segment}`,
            `BARMAN_HOOK=archive_script BARMAN_PHASE=pre BARMAN_FILE="$PWD/${segment}" ${TOOLS.barmanWalArchive.command} ${endpoint} pg-warm-hook`,
        ].join("\n");
        const r = await run("sh", ["-c", script]);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, COLD_FALLBACK);
        assert.ok(fs.existsSync(path.join(pg!.baseDir, "elsewhere", segment)), "restored into the second run's working directory");
        const listed = await run(TOOLS.barmanWalRestore.command, [...endpoint.split(" "), "pg-warm-hook", segment, "hooked"]);
        assert.equal(listed.code, 0, `the hook run archived ${segment} under pg-warm-hook: ${listed.stderr}`);
    });

    it("a tool killed by a signal ends its caller by that signal, as PostgreSQL sees it cold", async () => {
        // An S3 endpoint that accepts connections and never answers: the archive run stays in flight.
        hang = net.createServer(() => undefined);
        await new Promise<void>((resolve) => hang!.listen(0, LOOPBACK, resolve));
        const port = (hang.address() as net.AddressInfo).port;
        await pg!.query(`ALTER SYSTEM SET archive_command = '${TOOLS.barmanWalArchive.command} --endpoint-url http://${LOOPBACK}:${port} s3://${bucket}/ ${serverName} %p'`);
        await pg!.query("SELECT pg_reload_conf()");
        await pg!.query("INSERT INTO written VALUES (2)");
        await pg!.query("SELECT pg_switch_wal()");
        const tag = ownerTag(postmasterPid(pg!));
        const withLog = (err: Error): never => {
            throw new Error(`${err.message}\nwarm processes: ${JSON.stringify(warmProcesses(tag))}\nserver log:\n${pg!.logTail()}`);
        };
        const inFlight = () => archiveRunInFlight(tag, port);
        const first = await waitFor("an archive run in flight through the warm server", inFlight, 60_000, 100).catch(withLog);
        for (const tool of first.tools) process.kill(tool.pid, "SIGKILL");
        // The archiver runs the command through `sh -c`, which reports a child killed by signal N as status
        // 128 + N; PostgreSQL takes a status above 125 as fatal (pgarch.c) and restarts the archiver. A cold
        // tool killed the same way gives the same line; one that merely failed (exit 1) would only be retried.
        await waitFor("PostgreSQL to see the archive command killed by SIGKILL", () => /FATAL: {2}archive command failed with exit code 137/.test(pg!.logTail(50)), 30_000, 100).catch(withLog);
    });

    it("a run whose caller is killed ends at once; SIGKILL of the server ends the warm server and its runs", async () => {
        const tag = ownerTag(postmasterPid(pg!));
        const port = (hang!.address() as net.AddressInfo).port;
        const inFlight = () => archiveRunInFlight(tag, port);
        const first = await waitFor("the archiver to run the command again through the warm server", inFlight, 120_000, 100);
        for (const caller of first.callers) process.kill(caller.pid, "SIGKILL");
        const gone = (ps: ProcessInfo[]) => () => ps.every((p) => !processesWith(`drstack-warm-barman.${tag}`).some((q) => q.pid === p.pid));
        await waitFor("the orphaned run and its tool to end", gone([...first.runs, ...first.tools]), 10_000, 100);
        assert.equal(warmProcesses(tag).servers.length, 1, "the warm server itself stays for the next run");

        await waitFor("the archiver to try again through the warm server", inFlight, 120_000, 100);
        await pg!.stop("kill");
        assert.deepEqual(processesWith(`drstack-warm-barman.${tag}`), [], "a warm server or run outlived its server");
        assert.deepEqual(processesWith(`http://${LOOPBACK}:${port}`), [], "an archive command outlived its server");
    });

    it("the warm servers logged no error of their own (server-errors.log)", () => {
        const log = path.join(pg!.env.PATH!.split(":")[0], "server-errors.log");
        assert.equal(fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "", "");
    });

    it("a postmaster that dies on its own takes its warm server with it at stop()", async () => {
        await pg!.restart();
        const postmaster = postmasterPid(pg!);
        const tag = ownerTag(postmaster);
        await waitFor("the restarted server's archiver to start its warm server", () => warmProcesses(tag).servers.length === 1, 60_000, 100);
        process.kill(postmaster, "SIGKILL"); // not through stop(): the warm server, in a session of its own, survives it
        await waitFor("the postmaster to be gone", () => !pg!.running, 30_000, 100);
        assert.equal(warmProcesses(tag).servers.length, 1, "the warm server outlived its postmaster");
        await pg!.stop();
        assert.deepEqual(processesWith(`drstack-warm-barman.${tag}`), [], "stop() ended what the dead postmaster left");
    });
});
