// Why this exists: a local server's archive_command and restore_command start barman-cloud-wal-archive and
// barman-cloud-wal-restore hundreds of times in a drill, and half of each run's CPU is Python importing barman
// and boto3 (0.9 CPU-s per segment cold, 0.45 CPU-s forked after the imports, on the 2-core test machine).
// On the 2-core machine that CPU is most of the drill's, so the servers find these two tools first in a
// directory of shortcuts (warmBarman/client.py under each tool's name): each run is the real tool's entry
// point, with the same arguments, environment, working directory and output, in a process forked from one
// that imported it once (warmBarman/server.py, one per server, killed with the server by its owner tag).
// Job scripts keep the plain PATH: they run the tools as their CronJob does. DRSTACK_WARM_BARMAN=0 turns the
// shortcut off (every run then starts its own interpreter), to compare or to rule it out.
import * as fs from "fs";
import * as path from "path";
import { systemPath, TOOLS } from "./tools";
import { makeTempDir, ServiceUser } from "./user";

/** The tools the servers run through the shortcut: the ones their archive and restore commands call. */
export const WARM_TOOLS = [TOOLS.barmanWalArchive.command, TOOLS.barmanWalRestore.command];

/** The switch: "0" runs every tool cold. */
export const WARM_BARMAN_SWITCH = "DRSTACK_WARM_BARMAN";

const SOURCE_DIR = path.join(__dirname, "warmBarman");
const shortcutDirs = new Map<number, string>();

/** Whether the shortcut is on for this process (DRSTACK_WARM_BARMAN unset or "1"); anything else is an error. */
export function warmBarmanEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
    const value = env[WARM_BARMAN_SWITCH];
    if (value === undefined || value === "" || value === "1") return true;
    if (value === "0") return false;
    throw new Error(`${WARM_BARMAN_SWITCH}="${value}": expected 1 (barman-cloud forked after its imports, the default) or 0 (a fresh interpreter per run)`);
}

/**
 * The directory of shortcuts, made once per process and user: copies of client.py and server.py that the
 * service user can read (a clone may sit in a directory only its owner can enter) and one link per tool.
 */
export function warmShortcutDir(user: ServiceUser): string {
    let dir = shortcutDirs.get(user.uid);
    if (dir === undefined) {
        dir = makeTempDir("warm-barman", user);
        for (const file of ["client.py", "server.py"]) {
            fs.copyFileSync(path.join(SOURCE_DIR, file), path.join(dir, file));
            fs.chmodSync(path.join(dir, file), 0o755);
        }
        for (const tool of WARM_TOOLS) fs.symlinkSync("client.py", path.join(dir, tool));
        shortcutDirs.set(user.uid, dir);
    }
    return dir;
}

/** The PATH a local server gets: the shortcuts first (unless switched off), then systemPath(). */
export function serverPath(user: ServiceUser, env: NodeJS.ProcessEnv = process.env): string {
    return warmBarmanEnabled(env) ? `${warmShortcutDir(user)}:${systemPath()}` : systemPath();
}
