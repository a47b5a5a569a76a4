// The storage-outage scenario's check that the outage was real (drill/scenarios/storageOutage.ts,
// outageArchiving): it starts from an outage that passes and breaks one reading at a time. The
// straddling upload (ended before the cut, its command exited after) was seen for real: forced with
// a 1.5 s sleep after each successful barman-cloud-wal-archive, the drill counted one file archived
// during the outage in 3 runs of 3, and this check is what must tell it from a leak.
import { strict as assert } from "assert";
import { outageArchiving } from "../../drill/scenarios/storageOutage";
import { ArchiverStats } from "../../drill/scenarios/scenario";
import { archivedFileName } from "../../drill/topology";

const SEGMENT_5 = "000000010000000000000005";
const SEGMENT_6 = "000000010000000000000006";

const before: ArchiverStats = { archived: 4, failed: 0, lastArchived: "000000010000000000000004", lastFailed: null };
/** A passing outage: the link reset connections, one attempt failed, nothing counted archived. */
const during: ArchiverStats = { archived: 4, failed: 1, lastArchived: "000000010000000000000004", lastFailed: SEGMENT_5 };
const heldAtCut = ["000000010000000000000003", "000000010000000000000004"];

describe("storage outage: archiving kept trying and got nothing through (outageArchiving)", () => {
    it("passes an outage in which nothing was counted archived, and says what it saw", () => {
        const r = outageArchiving(before, heldAtCut, during, 7);
        assert.equal(r.ok, true);
        assert.equal(r.detail, "7 connections reset, 1 failed attempt, 0 files counted archived during the outage");
    });

    it("passes when PostgreSQL counted no failure yet but the link reset connections (barman-cloud still retrying)", () => {
        assert.equal(outageArchiving(before, heldAtCut, { ...during, failed: 0 }, 3).ok, true);
    });

    it("fails when nothing tried to reach S3: no connection reset and no failed attempt", () => {
        const r = outageArchiving(before, heldAtCut, { ...during, failed: 0 }, 0);
        assert.equal(r.ok, false);
        assert.match(r.detail, /^0 connections reset, 0 failed attempts/);
    });

    it("passes one file counted during the outage that the archive already held at the cut (uploaded before it, exited after)", () => {
        const r = outageArchiving(before, [...heldAtCut, SEGMENT_5], { ...during, archived: 5, lastArchived: SEGMENT_5 }, 7);
        assert.equal(r.ok, true);
        assert.match(r.detail, new RegExp(`1 file counted archived during the outage \\(${SEGMENT_5}: the archive held it at the cut`));
    });

    it("fails one file counted during the outage that the archive did not hold at the cut: it got through", () => {
        const r = outageArchiving(before, heldAtCut, { ...during, archived: 5, lastArchived: SEGMENT_5 }, 7);
        assert.equal(r.ok, false);
        assert.match(r.detail, new RegExp(`\\(the last ${SEGMENT_5}, not held by the archive at the cut\\)`));
    });

    it("fails two files counted during the outage, even if the last was held at the cut", () => {
        const r = outageArchiving(before, [...heldAtCut, SEGMENT_5, SEGMENT_6], { ...during, archived: 6, lastArchived: SEGMENT_6 }, 7);
        assert.equal(r.ok, false);
        assert.match(r.detail, /2 files counted archived during the outage/);
    });

    it("fails a straddling file when nothing tried to reach S3 afterwards", () => {
        assert.equal(outageArchiving(before, [...heldAtCut, SEGMENT_5], { ...during, failed: 0, archived: 5, lastArchived: SEGMENT_5 }, 0).ok, false);
    });
});

describe("the name PostgreSQL archived a file under, from barman-cloud's key (archivedFileName)", () => {
    it("reads segments, .backup, .partial and .history files, compressed or not", () => {
        const cases: [string, string][] = [
            ["pg-a/wals/0000000100000000/000000010000000000000005.gz", SEGMENT_5],
            ["pg-a/wals/0000000100000000/000000010000000000000005", SEGMENT_5],
            ["pg-a/wals/0000000100000000/000000010000000000000005.snappy", SEGMENT_5],
            ["pg-a/wals/0000000100000000/000000010000000000000005.bz2", SEGMENT_5],
            ["pg-a/wals/0000000100000000/000000010000000000000002.00000028.backup.bz2", "000000010000000000000002.00000028.backup"],
            ["pg-a/wals/0000000100000000/000000010000000000000002.00000028.backup", "000000010000000000000002.00000028.backup"],
            ["pg-a/wals/0000000100000000/000000010000000000000006.partial.gz", "000000010000000000000006.partial"],
            ["pg-a/wals/0000000100000000/000000010000000000000006.partial", "000000010000000000000006.partial"],
            // barman/xlog.py hash_dir: a history file has no log part, so no directory of its own.
            ["pg-a/wals/00000002.history.gz", "00000002.history"],
            ["pg-a/wals/00000002.history", "00000002.history"],
        ];
        for (const [key, name] of cases) assert.equal(archivedFileName(key), name, key);
    });

    it("reads no name from base backups or anything else", () => {
        for (const key of ["pg-a/base/20261125T101500/data.tar.gz", "pg-a/base/20261125T101500/backup.info", "pg-a/wals/0000000100000000/not-a-wal.gz", "pg-a/wals/0000000100000000/00000001000000000000000.gz",
            // Not a name barman-cloud 3.4 writes: a suffix it has no compression for, or a .history after a segment name.
            "pg-a/wals/0000000100000000/000000010000000000000005.tmp", "pg-a/wals/0000000100000000/000000010000000000000005.history"]) {
            assert.equal(archivedFileName(key), undefined, key);
        }
    });
});
