// The external tools the local stand-ins and the job scripts need, and how to get them.
// A missing tool is an error naming the package, never a silent skip.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { RunAs } from "./processes";

export interface Tool {
    command: string;
    /** How to install it, for the error message. */
    install: string;
}

const POSTGRES_SERVER = "apt-get install -y postgresql-15 (Debian; the server binaries live in /usr/lib/postgresql/<version>/bin, or set PG_BINDIR)";
const POSTGRES_CLIENT = "apt-get install -y postgresql-client-15 (or postgresql-15)";
const BARMAN = "apt-get install -y barman-cli-cloud";

export const TOOLS = {
    initdb: { command: "initdb", install: POSTGRES_SERVER },
    postgres: { command: "postgres", install: POSTGRES_SERVER },
    pgCtl: { command: "pg_ctl", install: POSTGRES_SERVER },
    pgAmcheck: { command: "pg_amcheck", install: POSTGRES_CLIENT },
    psql: { command: "psql", install: POSTGRES_CLIENT },
    pgDump: { command: "pg_dump", install: POSTGRES_CLIENT },
    pgRestore: { command: "pg_restore", install: POSTGRES_CLIENT },
    createdb: { command: "createdb", install: POSTGRES_CLIENT },
    barmanWalArchive: { command: "barman-cloud-wal-archive", install: BARMAN },
    barmanWalRestore: { command: "barman-cloud-wal-restore", install: BARMAN },
    barmanBackup: { command: "barman-cloud-backup", install: BARMAN },
    barmanBackupList: { command: "barman-cloud-backup-list", install: BARMAN },
    barmanRestore: { command: "barman-cloud-restore", install: BARMAN },
    aws: {
        command: "aws",
        install: "apt-get install -y awscli (system-wide: the jobs run as an unprivileged user that cannot use a CLI under /root)",
    },
    jq: { command: "jq", install: "apt-get install -y jq" },
    curl: { command: "curl", install: "apt-get install -y curl" },
    sha256sum: { command: "sha256sum", install: "apt-get install -y coreutils" },
    shellcheck: { command: "shellcheck", install: "apt-get install -y shellcheck" },
    motoServer: { command: "moto_server", install: "pip install 'moto[server]' (the S3 emulator; preinstalled on CI)" },
} satisfies Record<string, Tool>;

/** Every tool the backup job scripts call. */
export const JOB_TOOLS: Tool[] = [
    TOOLS.initdb,
    TOOLS.pgCtl,
    TOOLS.psql,
    TOOLS.pgDump,
    TOOLS.pgRestore,
    TOOLS.pgAmcheck,
    TOOLS.createdb,
    TOOLS.barmanWalArchive,
    TOOLS.barmanWalRestore,
    TOOLS.barmanBackup,
    TOOLS.barmanBackupList,
    TOOLS.barmanRestore,
    TOOLS.aws,
    TOOLS.jq,
    TOOLS.curl,
    TOOLS.sha256sum,
];

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** The full path of `command` on `pathEnv`, as the current user sees it. */
export function which(command: string, pathEnv = process.env.PATH ?? ""): string | undefined {
    for (const dir of pathEnv.split(":")) {
        if (dir && isExecutable(path.join(dir, command))) {
            return path.join(dir, command);
        }
    }
    return undefined;
}

let binDir: string | undefined;

/** PostgreSQL's server bin directory (initdb, postgres, pg_ctl are not on Debian's PATH). */
export function postgresBinDir(): string {
    if (binDir) {
        return binDir;
    }
    const candidates: string[] = [];
    if (process.env.PG_BINDIR) {
        candidates.push(process.env.PG_BINDIR);
    }
    const debianRoot = "/usr/lib/postgresql";
    if (fs.existsSync(debianRoot)) {
        const versions = fs
            .readdirSync(debianRoot)
            .filter((v) => /^\d+$/.test(v))
            .sort((a, b) => Number(b) - Number(a));
        candidates.push(...versions.map((v) => path.join(debianRoot, v, "bin")));
    }
    const onPath = which("postgres");
    if (onPath) {
        candidates.push(path.dirname(fs.realpathSync(onPath)));
    }
    for (const dir of candidates) {
        if (isExecutable(path.join(dir, "postgres")) && isExecutable(path.join(dir, "initdb"))) {
            binDir = dir;
            return dir;
        }
    }
    throw new Error(`PostgreSQL server binaries (initdb, postgres) not found: ${POSTGRES_SERVER}`);
}

/**
 * What every process that may start barman-cloud gets in its environment (servers, whose archive and
 * restore commands run it, job scripts, direct calls). On this Debian 12 machine python3-setuptools puts a
 * distutils-precedence.pth in dist-packages, so `import distutils` (barman.utils imports distutils.version)
 * loads setuptools' copy, which imports pkg_resources and scans every installed distribution: measured with
 * `python3 -X importtime`, 1.2 s of barman-cloud-wal-archive's 1.6 s import, and 2.0 s wall / 0.85 CPU-s
 * per `--help` against 0.65 s / 0.26 CPU-s without it. SETUPTOOLS_USE_DISTUTILS=stdlib (setuptools' switch,
 * read by that .pth file) keeps the standard library's distutils, as on a machine without python3-setuptools
 * (barman-cli-cloud does not depend on it; the jobs' image, images/backup-jobs, does not install it). What
 * barman does is unchanged; each archive or restore command starts about a second sooner, with a third of the CPU.
 */
export const PYTHON_TOOL_ENV: Readonly<Record<string, string>> = { SETUPTOOLS_USE_DISTUTILS: "stdlib" };

/** The PATH the servers and job scripts get: PostgreSQL's bin dir plus the system directories. */
export function systemPath(): string {
    return [postgresBinDir(), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":");
}

/**
 * Throws one error listing every missing tool and how to install it. With `runAs`, checks
 * what that user finds on `pathEnv` (a tool under /root is no use to the postgres user).
 */
export function requireTools(tools: Tool[], pathEnv: string, runAs?: RunAs): void {
    const missing = tools.filter((tool) => {
        if (!runAs) {
            return which(tool.command, pathEnv) === undefined;
        }
        const probe = spawnSync("sh", ["-c", 'command -v "$1" >/dev/null', "sh", tool.command], {
            env: { PATH: pathEnv },
            uid: runAs.uid,
            gid: runAs.gid,
        });
        return probe.status !== 0;
    });
    if (missing.length > 0) {
        const who = runAs ? ` for uid ${runAs.uid}` : "";
        throw new Error(
            `Required tool(s) missing${who} on PATH=${pathEnv}:\n` +
                missing.map((t) => `  - ${t.command}: ${t.install}`).join("\n"),
        );
    }
}
