// The background suites' timeouts (test/support/timeouts.ts): multiplied by the factor tools/testAll.ts sets,
// unchanged without it, and a malformed factor is an error naming the variable rather than a silent 1.
import { strict as assert } from "assert";
import { testTimeout, timeoutScale, TIMEOUT_SCALE_ENV } from "../support/timeouts";

describe("test timeouts in the background", () => {
    it("are unchanged when the factor is unset or empty", () => {
        assert.equal(testTimeout(120_000, {}), 120_000);
        assert.equal(testTimeout(120_000, { [TIMEOUT_SCALE_ENV]: "" }), 120_000);
    });

    it("are multiplied by the factor", () => {
        assert.equal(testTimeout(120_000, { [TIMEOUT_SCALE_ENV]: "10" }), 1_200_000);
        assert.equal(testTimeout(30_000, { [TIMEOUT_SCALE_ENV]: "2.5" }), 75_000);
    });

    it("refuse a factor that is not a number of at least 1, naming the variable", () => {
        for (const bad of ["ten", "0.5", "0", "-3", "Infinity"]) {
            assert.throws(() => timeoutScale({ [TIMEOUT_SCALE_ENV]: bad }), new RegExp(`${TIMEOUT_SCALE_ENV}="${bad}": expected a number of at least 1`));
        }
    });
});
