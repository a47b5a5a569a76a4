// RPO accounting: a known number of withheld commits is reported exactly.
import { strict as assert } from "assert";
import { Ack, lostCommits } from "../../drill/accounting";

describe("drill RPO accounting", () => {
    const acked: Ack[] = Array.from({ length: 1000 }, (_, i) => ({ seq: i + 1, ackMs: 10 * (i + 1) }));

    it("reports exactly the withheld commits, and the span from the first of them to the disaster", () => {
        const withheld = new Set([400, 401, 650, 651, 652, 990, 991]);
        const present = new Set(acked.map((a) => a.seq).filter((s) => !withheld.has(s)));
        const loss = lostCommits(acked, present, 10_000);
        assert.deepEqual(loss.lost.map((a) => a.seq), [...withheld]);
        assert.equal(loss.spanSeconds, (10_000 - 4_000) / 1000);
    });

    it("counts nothing when every acknowledged commit survived", () => {
        const loss = lostCommits(acked, new Set(acked.map((a) => a.seq)), 10_000);
        assert.deepEqual(loss, { lost: [], spanSeconds: 0 });
    });

    it("ignores commits acknowledged after the disaster (they were not on the lost primary)", () => {
        const present = new Set(acked.filter((a) => a.seq <= 500).map((a) => a.seq));
        const loss = lostCommits(acked, present, 6_000);
        assert.equal(loss.lost.length, 100, "seq 501..600 acknowledged by 6 s are lost; later ones are not counted");
        assert.equal(loss.spanSeconds, (6_000 - 5_010) / 1000);
    });
});
