// The drill suite's scenario groups (test/drill/scenarios.ts) must hold every scenario exactly once: a scenario
// left out of every group would silently go untested, since the suite runs the groups, not the scenario list.

import { strict as assert } from "assert";
import { SCENARIO_NAMES } from "../../drill/run";
import { checkGroupsCoverScenarios, PROMISES, SCENARIO_GROUPS } from "../drill/scenarios";

describe("the drill suite's scenario groups (test/drill/scenarios.ts)", () => {
    it("hold every scenario once", () => {
        assert.doesNotThrow(() => checkGroupsCoverScenarios(SCENARIO_GROUPS, SCENARIO_NAMES));
    });

    it("give promises only to scenarios that exist", () => {
        assert.deepEqual(Object.keys(PROMISES).filter((n) => !SCENARIO_NAMES.includes(n)), []);
        assert.ok(Object.keys(PROMISES).length > 0);
    });

    it("name a scenario left out of every group", () => {
        assert.throws(() => checkGroupsCoverScenarios({ a: ["x"] }, ["x", "y"]), /not in a group: y;/);
    });

    it("name a group entry that is not a scenario, and one listed twice", () => {
        assert.throws(() => checkGroupsCoverScenarios({ a: ["x", "z"] }, ["x"]), /not a scenario: z;/);
        assert.throws(() => checkGroupsCoverScenarios({ a: ["x"], b: ["x"] }, ["x"]), /in more than one place: x;/);
    });
});
