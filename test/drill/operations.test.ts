// The DR drill's operations scenarios at small scale, for real (test/drill/scenarios.ts has the groups and what each
// scenario promises); nothing the drill starts outlives a test, not even the archive command a SIGKILLed
// primary was running.
import { describeScenarios } from "./scenarios";

describeScenarios("operations");
