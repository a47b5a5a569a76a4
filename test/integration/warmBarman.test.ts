// The warm barman-cloud shortcut (local/warmBarman.ts) changes how fast a server's archive and restore
// commands start, never what they do: through it, barman-cloud-wal-archive and -restore give the same
// files, exit statuses and messages as the tools run cold, and a run in flight still ends with its caller
// and with its server.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { MotoServer } from "../../local/motoServer";
import { LOOPBACK } from "../../local/ports";
import { LocalPostgres } from "../../local/postgres";
import { runProcess, RunResult, waitFor } from "../../local/processes";
import { systemPath, TOOLS } from "../../local/tools";
import { WARM_TOOLS } from "../../local/warmBarman";

interface Proc {
    pid: number;
    ppid: number;
    cmdline: string;
}

/** Live processes (zombies excluded) whose command line contains `text`. */
function processesWith(text: string): Proc[] {
    const found: Proc[] = [];
    for (const entry of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim();
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (state !== "Z" && cmdline.includes(text)) found.push({ pid: Number(entry), ppid: Number(ppid), cmdline });
        } catch {
            // exited meanwhile
        }
    }
    return found;
}

/** The warm servers of one server (their names carry its owner tag) and the tool runs forked from them. */
function warmProcesses(): { servers: Proc[]; runs: Proc[] } {
    const all = processesWith("server.py drstack-warm-barman.");
    const servers = all.filter((p) => !all.some((q) => q.pid === p.ppid));
    return { servers, runs: all.filter((p) => servers.some((s) => s.pid === p.ppid)) };
}

/** barman's log lines start with a timestamp and a pid; the rest must match. */
const withoutStamps = (text: string) => text.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \[\d+\] /gm, "");

describe("barman-cloud through the warm shortcut (real PostgreSQL, barman-cloud, moto_server)", function () {
    this.timeout(180_000);
    let moto: MotoServer | undefined;
    let pg: LocalPostgres | undefined;
    let hang: net.Server | undefined;
    const bucket = "warm-shortcut";
    const serverName = "pg-warm";

    after(async () => {
        await pg?.cleanup();
        await moto?.stop();
        hang?.close();
    });

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

    it("serves exactly the tools the servers' commands call, first on their PATH", () => {
        assert.deepEqual(WARM_TOOLS, [TOOLS.barmanWalArchive.command, TOOLS.barmanWalRestore.command]);
        const [first, ...rest] = pg!.env.PATH!.split(":");
        assert.equal(rest.join(":"), systemPath(), "then the PATH the job scripts get");
        for (const tool of WARM_TOOLS) assert.equal(fs.realpathSync(path.join(first, tool)), fs.realpathSync(path.join(first, "client.py")), tool);
        assert.deepEqual(fs.readdirSync(first).sort(), ["client.py", "server.py", ...WARM_TOOLS].sort(), "nothing else is shadowed");
    });

    it("archives through a warm server, and restores what the tools run cold restore, byte for byte", async () => {
        await pg!.query("CREATE TABLE written AS SELECT 1 AS v"); // WAL to switch away from
        const [{ segment }] = await pg!.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
        await waitFor(`segment ${segment} archived`, async () => {
            const [row] = await pg!.query<{ last: string | null }>("SELECT last_archived_wal AS last FROM pg_stat_archiver");
            return row.last !== null && row.last >= segment;
        }, 60_000);
        assert.ok(warmProcesses().servers.length >= 1, "the archive command started a warm server");
        const restore = (warm: boolean, target: string) =>
            runProcess(TOOLS.barmanWalRestore.command, ["--endpoint-url", moto!.endpoint, `s3://${bucket}/`, serverName, segment, target], {
                env: warm ? pg!.env : { ...pg!.env, PATH: systemPath() },
                runAs: pg!.user.runAs,
                cwd: pg!.baseDir,
                timeoutMs: 60_000,
            });
        const [warm, cold] = [await restore(true, "warm"), await restore(false, "cold")];
        assert.equal(warm.code, 0, warm.stderr);
        assert.equal(cold.code, 0, cold.stderr);
        const [warmBytes, coldBytes] = ["warm", "cold"].map((f) => fs.readFileSync(path.join(pg!.baseDir, f)));
        assert.equal(warmBytes.length, 16 * 1024 * 1024);
        assert.ok(warmBytes.equals(coldBytes), "the same segment");
    });

    it("gives the cold tool's exit status and messages: a missing segment, an unknown option", async () => {
        const run = (warm: boolean, args: string[]): Promise<RunResult> =>
            runProcess(TOOLS.barmanWalRestore.command, args, { env: warm ? pg!.env : { ...pg!.env, PATH: systemPath() }, runAs: pg!.user.runAs, cwd: pg!.baseDir, timeoutMs: 60_000 });
        const cases = [
            ["--endpoint-url", moto!.endpoint, `s3://${bucket}/`, serverName, "0000000100000000000000FE", "missing"],
            ["--no-such-option", `s3://${bucket}/`, serverName, "x", "y"],
        ];
        for (const args of cases) {
            const [warm, cold] = [await run(true, args), await run(false, args)];
            assert.notEqual(cold.code, 0, `${args.join(" ")}: the cold tool fails`);
            assert.equal(warm.code, cold.code, `${args.join(" ")}: exit status`);
            assert.equal(withoutStamps(warm.stderr), withoutStamps(cold.stderr), `${args.join(" ")}: messages`);
            assert.equal(warm.stdout, cold.stdout);
        }
    });

    it("a run whose caller is killed ends at once; SIGKILL of the server ends the warm server and its runs", async () => {
        // An S3 endpoint that accepts connections and never answers: the archive run stays in flight.
        hang = net.createServer(() => undefined);
        await new Promise<void>((resolve) => hang!.listen(0, LOOPBACK, resolve));
        const port = (hang.address() as net.AddressInfo).port;
        await pg!.query(`ALTER SYSTEM SET archive_command = '${TOOLS.barmanWalArchive.command} --endpoint-url http://${LOOPBACK}:${port} s3://${bucket}/ ${serverName} %p'`);
        await pg!.query("SELECT pg_reload_conf()");
        await pg!.query("INSERT INTO written VALUES (2)");
        await pg!.query("SELECT pg_switch_wal()");
        const inFlight = () => {
            const { runs } = warmProcesses();
            const callers = processesWith(`${TOOLS.barmanWalArchive.command} --endpoint-url http://${LOOPBACK}:${port}`).filter((p) => p.cmdline.includes("-IS"));
            return runs.length > 0 && callers.length > 0 ? { runs, callers } : undefined;
        };
        const withLog = (err: Error) => {
            throw new Error(`${err.message}\nwarm processes: ${JSON.stringify(warmProcesses())}\nserver log:\n${pg!.logTail()}`);
        };
        const first = await waitFor("an archive run in flight through the warm server", inFlight, 60_000, 100).catch(withLog);
        for (const caller of first.callers) process.kill(caller.pid, "SIGKILL");
        await waitFor("the orphaned run to end", () => first.runs.every((r) => !processesWith("server.py drstack-warm-barman.").some((p) => p.pid === r.pid)), 10_000, 100);

        await waitFor("the archiver to try again through the warm server", inFlight, 120_000, 100).catch(withLog);
        await pg!.stop("kill");
        assert.deepEqual(processesWith("drstack-warm-barman."), [], "a warm server or run outlived its server");
        assert.deepEqual(processesWith(`http://${LOOPBACK}:${port}`), [], "an archive command outlived its server");
    });
});
