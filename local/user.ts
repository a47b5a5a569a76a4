// Who runs the local stand-ins. PostgreSQL refuses to run as root, and the backup jobs run as
// an unprivileged user in their containers, so under root (CI) servers and job scripts run as
// the `postgres` user the Debian package creates (or $DRSTACK_SERVICE_USER); otherwise as the
// current user.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RunAs } from "./processes";
import { processTeardown, Registration } from "./teardown";

export interface ServiceUser {
    name: string;
    uid: number;
    gid: number;
    /** Set when processes must switch to this user (we are root); undefined: run as we are. */
    runAs?: RunAs;
}

function passwdEntry(name: string): { uid: number; gid: number } | undefined {
    const passwd = fs.readFileSync("/etc/passwd", "utf8");
    for (const line of passwd.split("\n")) {
        const fields = line.split(":");
        if (fields[0] === name && fields.length >= 4) {
            return { uid: Number(fields[2]), gid: Number(fields[3]) };
        }
    }
    return undefined;
}

let cached: ServiceUser | undefined;

export function serviceUser(): ServiceUser {
    if (cached) {
        return cached;
    }
    const uid = process.getuid?.() ?? -1;
    if (uid !== 0) {
        const info = os.userInfo();
        cached = { name: info.username, uid: info.uid, gid: info.gid };
        return cached;
    }
    const name = process.env.DRSTACK_SERVICE_USER || "postgres";
    const entry = passwdEntry(name);
    if (!entry) {
        throw new Error(
            `Running as root, but there is no user "${name}" to run PostgreSQL and the job scripts as ` +
                "(PostgreSQL refuses to run as root). Install the server (`apt-get install -y postgresql-15`, which " +
                "creates the postgres user), create an unprivileged user, or set DRSTACK_SERVICE_USER.",
        );
    }
    cached = { name, ...entry, runAs: entry };
    return cached;
}

/** Temp dirs not removed yet, each a step on processTeardown (removed at exit, even on an interrupted run). */
const liveTempDirs = new Map<string, Registration>();
/** A fresh directory under the system temp dir, owned by `owner` (mode 0700). */
export function makeTempDir(prefix: string, owner: ServiceUser = serviceUser()): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `drstack-${prefix}-`));
    // Synchronous, so it also works from the exit hook; a server may still be dying then: best effort.
    liveTempDirs.set(dir, processTeardown.add(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true })));
    if (owner.runAs) {
        fs.chownSync(dir, owner.uid, owner.gid);
    }
    return dir;
}

/** Writes a file the service user owns. */
export function writeOwnedFile(file: string, content: string, owner: ServiceUser = serviceUser(), mode = 0o644): void {
    fs.writeFileSync(file, content, { mode });
    if (owner.runAs) {
        fs.chownSync(file, owner.uid, owner.gid);
    }
}

export function removeDir(dir: string | undefined): void {
    if (dir) {
        fs.rmSync(dir, { recursive: true, force: true });
        liveTempDirs.get(dir)?.release();
        liveTempDirs.delete(dir);
    }
}
