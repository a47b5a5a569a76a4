// Killing a server leaves nothing behind, by construction. PostgreSQL puts every child of the
// postmaster in its own session (InitPostmasterChild in src/backend/utils/init/miscinit.c calls
// setsid()), and the archiver runs archive_command through system(), so the `sh -c` and the
// tool it starts sit in the ARCHIVER's process group, not the postmaster's. When the drill
// SIGKILLs a primary with an archive command in flight, that command must still go with it.

import { strict as assert } from "assert";
import { randomInt } from "crypto";
import * as fs from "fs";
import { LocalPostgres } from "../../local/postgres";
import { liveProcesses, processesWith, waitFor } from "../../local/processes";

describe("killing a server leaves no process behind", function () {
    this.timeout(120000);
    // A sleep nobody else runs: its duration is the marker that finds it (and its sh) in ps.
    const marker = `sleep 40.${randomInt(100000, 999999)}`;
    let pg: LocalPostgres | undefined;

    after(async function () {
        await pg?.cleanup();
        // Whatever a failed run left: end exactly those processes, by pid.
        for (const p of processesWith(marker)) {
            try {
                process.kill(p.pid, "SIGKILL");
            } catch {
                // gone
            }
        }
    });

    it("SIGKILL of a primary also ends the archive_command it was running", async function () {
        pg = await LocalPostgres.start({
            name: "slow-archive",
            settings: { wal_level: "replica", archive_mode: "on", archive_command: `${marker}; exit 1` },
        });
        await pg.query("CREATE TABLE t AS SELECT generate_series(1, 1000) AS v");
        await pg.query("SELECT pg_switch_wal()");
        const inFlight = await waitFor("the archiver to run the slow archive_command", () => {
            const found = processesWith(marker);
            return found.some((p) => p.cmdline.startsWith("sleep")) ? found : undefined;
        }, 30000, 100);
        const postmaster = Number(fs.readFileSync(`${pg.dataDir}/postmaster.pid`, "utf8").split("\n")[0]);
        const [{ pid: archiver }] = await pg.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'");
        assert.ok(archiver > 0, "an archiver process");
        // The archive command runs in the archiver's own group and session, which is why killing
        // the postmaster's group alone could never reach it.
        const groups = [...new Set(inFlight.map((p) => p.pgid))];
        assert.deepEqual(groups, [archiver], `the archive command runs in the archiver's group: ${JSON.stringify(inFlight)}`);

        // Every process of the server: the postmaster, its children (each in a session of its own)
        // and what they run.
        const serverGroups = [...new Set([postmaster, ...liveProcesses((p) => p.ppid === postmaster).map((p) => p.pgid), ...groups])];
        assert.ok(serverGroups.length >= 5, `postmaster, checkpointer, ..., archiver: ${serverGroups}`);

        await pg.stop("kill");

        assert.deepEqual(processesWith(marker), [], "the archive command outlived the server");
        for (const pgid of serverGroups) {
            assert.deepEqual(liveProcesses((p) => p.pgid === pgid), [], `process group ${pgid} still has live members`);
        }
        assert.equal(pg.running, false);
    });
});
