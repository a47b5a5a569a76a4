// Self-bootstrapping: the drill needs PostgreSQL, barman-cloud, the aws CLI, jq and moto_server.
// Missing Debian packages are installed when running as root; otherwise the drill stops at once
// with the exact command to run.
import { spawnSync } from "child_process";
import { JOB_TOOLS, requireTools, systemPath, which } from "../local/tools";
import { serviceUser } from "../local/user";

/** The Debian packages behind every tool the drill and the bench run (python3-*: barman-cloud's optional compressions). */
export const DRILL_PACKAGES = ["postgresql", "barman-cli-cloud", "python3-snappy", "python3-lz4", "python3-zstandard", "awscli", "jq", "curl"];
export const MOTO_INSTALL = `pip install "moto[server]"`;

function missingTools(): string | undefined {
    try {
        requireTools(JOB_TOOLS, systemPath(), serviceUser().runAs);
        return undefined;
    } catch (error) {
        return (error as Error).message;
    }
}

export function preflight(log: (line: string) => void): void {
    let missing = missingTools();
    if (missing && process.getuid?.() === 0) {
        log(`installing ${DRILL_PACKAGES.join(" ")} (apt-get, as root) ...`);
        const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
        for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...DRILL_PACKAGES]]) {
            const r = spawnSync("apt-get", args, { env, stdio: ["ignore", "ignore", "inherit"] });
            if (r.status !== 0) {
                throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status}); install by hand: apt-get install -y ${DRILL_PACKAGES.join(" ")}`);
            }
        }
        missing = missingTools();
    }
    if (missing) {
        throw new Error(`${missing}\nInstall them with: sudo apt-get install -y ${DRILL_PACKAGES.join(" ")}`);
    }
    if (!which("moto_server", process.env.PATH ?? "")) {
        throw new Error(`moto_server (the local S3 endpoint) is missing. Install it with: ${MOTO_INSTALL}`);
    }
}
