// The restore part's tables for humans: restore time and size per compression next to the plain
// copy, where the time goes by phase, and whether the shipped default meets the goal, or what bounds it.

import { CompressionResult, RestoreResult } from "./restore";
import { formatTable, MIB } from "./support";

const f = (value: number, digits = 2) => value.toFixed(digits);

function row(r: RestoreResult, c: CompressionResult, tarMiB: number): string[] {
    const unpack = r.unpack.pythonMedianSeconds;
    const copy = r.plainCopy.medianSeconds;
    const shipped = c.compression === r.shipped ? `${c.compression} (shipped)` : c.compression;
    if (c.status === "skipped") {
        return [shipped, "-", "-", "-", "-", "-", "-", "-", "-", "not measured (below)"];
    }
    const size = `${f(c.storedBytes / MIB, 0)} (${f((100 * c.storedBytes) / MIB / tarMiB, 0)}%)`;
    if (c.status === "codec-only") {
        return [shipped, size, f(r.startupSeconds), "-", f(c.decompressMedianSeconds), f(unpack), "-", `~${f(c.estimatedRestoreSeconds)} (est.)`, `~${f(c.estimatedRatioToPlainCopy)}`, c.estimatedRatioToPlainCopy <= 2 ? "met (est.)" : "NOT met (est.)"];
    }
    const sum = r.startupSeconds + c.downloadMedianSeconds + c.decompressMedianSeconds + unpack;
    return [
        shipped,
        size,
        f(r.startupSeconds),
        f(c.downloadMedianSeconds),
        c.compression === "none" ? "-" : f(c.decompressMedianSeconds),
        f(unpack),
        f(sum),
        f(c.restoreMedianSeconds),
        f(c.ratioToPlainCopy),
        c.restoreMedianSeconds <= 2 * copy ? "met" : "NOT met",
    ];
}

/** What bounds the shipped default's restore, from its measured phases. */
function verdict(r: RestoreResult): string {
    const copy = r.plainCopy.medianSeconds;
    const c = r.compressions.find((x) => x.compression === r.shipped);
    if (!c || c.status === "skipped") {
        return `The shipped default (${r.shipped}) was not measured in this run${c ? `: ${c.reason}` : ""}.`;
    }
    const restore = c.status === "measured" ? c.restoreMedianSeconds : c.estimatedRestoreSeconds;
    const ratio = restore / copy;
    const head = `Shipped default ${r.shipped}: restore ${f(restore)} s = ${f(ratio)}x the plain copy (${f(copy)} s): goal ${ratio <= 2 ? "MET" : "NOT met"}.`;
    if (ratio <= 2) {
        return head;
    }
    const parts: [string, number][] = [
        ["barman-cloud start-up", r.startupSeconds],
        ["download (S3 GET)", c.status === "measured" ? c.downloadMedianSeconds : NaN],
        ["decompression", c.decompressMedianSeconds],
        ["unpack (Python tarfile)", r.unpack.pythonMedianSeconds],
    ];
    const known = parts.filter(([, s]) => Number.isFinite(s));
    const [worst, worstSeconds] = known.reduce((a, b) => (b[1] > a[1] ? b : a));
    return [
        head,
        `What bounds it, by phase: ${known.map(([n, s]) => `${n} ${f(s)} s (${f(s / copy)}x copy)`).join(", ")}; the largest is ${worst} (${f(worstSeconds)} s).`,
        `barman-cloud-restore runs these one after another in one Python process per tar, so no compression can beat ` +
            `start-up + download + unpack of the uncompressed tar (${f(r.unpack.pythonMedianSeconds)} s unpack alone = ${f(r.unpack.pythonMedianSeconds / copy)}x copy; ` +
            `GNU tar unpacks the same tar in ${f(r.unpack.gnuTarMedianSeconds)} s).`,
    ].join("\n");
}

export function formatRestore(r: RestoreResult): string {
    const m = r.machine;
    const db = r.database;
    const tarMiB = r.unpack.tarBytes / MIB;
    const copy = r.plainCopy;
    return [
        `Restore by compression: ${f(db.databaseBytes / MIB, 0)} MiB database (${db.rows} rows, half-compressible filler), ` +
            `data dir without pg_wal ${f(copy.dataDirBytes / MIB, 0)} MiB, uncompressed tar ${f(tarMiB, 0)} MiB`,
        `Machine: ${m.cpus} x ${m.cpuModel}, ${m.memoryMiB} MiB RAM, ${m.os}, ${m.filesystem.fstype} on ${m.filesystem.source}, load ${m.loadAverageAtStart.join("/")} at start, ${r.loadAverageAtEnd.join("/")} at end`,
        `PostgreSQL ${r.versions.postgres}, ${r.versions.barmanCloud}, moto_server ${r.versions.moto} (a LOCAL S3 emulator on loopback, not AWS S3)`,
        `Plain copy (${copy.method}): median ${f(copy.medianSeconds)} s of ${copy.runs.length}`,
        `Goal: ${r.goal}. Medians of ${r.repeats} runs; seconds.`,
        "",
        formatTable(
            ["compression", "stored MiB (% of tar)", "start-up", "download", "decompress", "unpack", "sum of phases", "restore (barman-cloud-restore + sync)", "x plain copy", "goal <= 2x"],
            r.compressions.map((c) => row(r, c, tarMiB)),
        ),
        ...r.compressions.flatMap((c) => (c.status === "measured" ? [] : [`${c.compression}: ${c.status === "skipped" ? "not measured" : "codec only"}: ${c.reason}`])),
        "",
        verdict(r),
        "",
        "- start-up = barman-cloud-backup-list (Python, boto3, the catalogue); download = S3 GETs of the tars from moto + sync; decompress = the codec's Python library (as barman uses it) to nowhere;",
        "  unpack = Python tarfile.extractall of the uncompressed tar + sync (barman's way); all on the same filesystem as the plain copy.",
        "- est. = codec-only: the measured uncompressed restore, less the download time the smaller tar saves, plus decompression (not an end-to-end barman-cloud-restore).",
        "- sum of phases can exceed the restore: moto serves the next bytes while barman unpacks, so the phases overlap.",
        `- Backups as production takes them: no --encryption (the declared ObjectStore sets none: the bucket default applies), --jobs 2, --immediate-checkpoint. WAL fetch and recovery are not included (see the pitr part).`,
    ].join("\n");
}
