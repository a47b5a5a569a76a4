// The compressions the restore bench compares, what the installed barman-cloud can write, and
// the local commands (bench/codec.py) that time decompression and unpacking on their own.
//
// What accepts what (checked 2026-11):
// - barman-cloud-backup 3.4.0 (Debian 12, installed here): -z/--gzip, -j/--bzip2, --snappy (see its --help).
//   --lz4 arrived in Barman 3.18.0 (EnterpriseDB/barman commit 468641b), the version the Barman Cloud
//   plugin's sidecar bundles (cloudnative-pg/plugin-barman-cloud issue #867).
// - The plugin's ObjectStore CRD takes its enums from cloudnative-pg/barman-cloud pkg/api:
//   wal.compression  bzip2|gzip|lz4|snappy|xz|zstd;
//   data.compression bzip2|gzip|snappy, plus lz4 since barman-cloud PR #216 / plugin PR #868 (April 2026).
// - Debian 12's python3-snappy 0.5.3 cannot write or read snappy's framing format on Python 3.11
//   (its C crc32c raises "PY_SSIZE_T_CLEAN macro must be defined"; intake/python-snappy issue #97),
//   so barman-cloud's --snappy fails here; availableFor() finds that out by a round trip.

import * as fs from "fs";
import * as path from "path";
import { runChecked } from "../local/processes";
import { systemPath, which } from "../local/tools";

export type CodecName = "none" | "gzip" | "bzip2" | "snappy" | "lz4" | "zstd";

export interface Codec {
    name: CodecName;
    /** barman-cloud-backup's flag for it; undefined for none, null where no barman-cloud-backup writes it. */
    backupFlag: string | undefined | null;
    /** The suffix of the tar barman-cloud-backup uploads (data.tar<suffix>). */
    suffix: string;
}

export const CODECS: Record<CodecName, Codec> = {
    none: { name: "none", backupFlag: undefined, suffix: "" },
    gzip: { name: "gzip", backupFlag: "--gzip", suffix: ".gz" },
    bzip2: { name: "bzip2", backupFlag: "--bzip2", suffix: ".bz2" },
    snappy: { name: "snappy", backupFlag: "--snappy", suffix: ".snappy" },
    lz4: { name: "lz4", backupFlag: "--lz4", suffix: ".lz4" },
    // No barman-cloud-backup writes zstd; measured as a codec only, for comparison.
    zstd: { name: "zstd", backupFlag: null, suffix: ".zst" },
};

export const CODEC_NAMES = Object.keys(CODECS) as CodecName[];

export function codec(name: string): Codec {
    if (!(name in CODECS)) {
        throw new Error(`unknown compression "${name}" (known: ${CODEC_NAMES.join(", ")})`);
    }
    return CODECS[name as CodecName];
}

/** The Debian package of each codec's Python library (gzip and bz2 are in the standard library). */
const PYTHON_PACKAGES: Record<CodecName, string> = {
    none: "python3",
    gzip: "python3",
    bzip2: "python3",
    snappy: "python3-snappy",
    lz4: "python3-lz4",
    zstd: "python3-zstandard",
};

const CODEC_SCRIPT = path.join(__dirname, "codec.py");

/** The interpreter a script's #! line names (barman-cloud's Python, whose modules decide what it can do). */
export function interpreterOf(script: string): string | undefined {
    try {
        const first = fs.readFileSync(script, "utf8").split("\n", 1)[0];
        return /^#!\s*(\S+)/.exec(first)?.[1];
    } catch {
        return undefined;
    }
}

/** barman-cloud's Python: the codec timings must use the libraries barman-cloud-restore uses. */
export function barmanPython(): string {
    return interpreterOf(which("barman-cloud-backup") ?? "") ?? "python3";
}

export class CodecRunner {
    readonly python = barmanPython();

    constructor(
        private readonly timeoutMs: number,
    ) {}

    private async run(args: string[]): Promise<void> {
        await runChecked(this.python, [CODEC_SCRIPT, ...args], { env: { PATH: systemPath() }, timeoutMs: this.timeoutMs });
    }

    decompress(name: CodecName, file: string): Promise<void> {
        return this.run(["decompress", name, file]);
    }

    compress(name: CodecName, from: string, to: string): Promise<void> {
        return this.run(["compress", name, from, to]);
    }

    /** Python's tarfile, streaming, as barman-cloud-restore unpacks. */
    unpack(tar: string, dir: string): Promise<void> {
        return this.run(["unpack", tar, dir]);
    }

    /** Why `name` cannot round-trip with barman's Python here, or undefined when it can. */
    async brokenBecause(name: CodecName, scratchDir: string): Promise<string | undefined> {
        if (name === "none") {
            return undefined;
        }
        const plain = path.join(scratchDir, "codec-check");
        fs.writeFileSync(plain, "drstack ".repeat(100000));
        try {
            await this.compress(name, plain, `${plain}.${name}`);
            await this.decompress(name, `${plain}.${name}`);
            return undefined;
        } catch (error) {
            const lines = (error as Error).message.trim().split("\n");
            const last = lines[lines.length - 1];
            const hint = /ModuleNotFoundError/.test(last) ? ` (apt-get install -y ${PYTHON_PACKAGES[name]})` : "";
            return `${this.python} cannot round-trip ${name}: ${last}${hint}`;
        } finally {
            fs.rmSync(plain, { force: true });
            fs.rmSync(`${plain}.${name}`, { force: true });
        }
    }
}

/** Why barman-cloud-backup here cannot write `c`, or undefined when it can. */
export function barmanCannotWrite(c: Codec, backupHelp: string, version: string): string | undefined {
    if (c.backupFlag === null) {
        return "no barman-cloud-backup writes it";
    }
    if (c.backupFlag !== undefined && !backupHelp.includes(c.backupFlag)) {
        return `${version} has no ${c.backupFlag}`;
    }
    return undefined;
}
