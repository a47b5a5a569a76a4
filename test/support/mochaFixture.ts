// Real mocha, run by a test on a one-file fixture: for tests of what the repository's mocha config does
// (test/unit/mochaExit.test.ts, test/unit/sourceMaps.test.ts).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "../..");

/** The repository's mocha config, which every suite runs with. */
export const MOCHA_CONFIG = path.join(REPO_ROOT, ".mocharc.json");

/**
 * Writes `spec` as a test file in a temp dir and returns mocha's command line for it (run it from REPO_ROOT with
 * process.execPath): with the repository's config, or with `config` written next to the spec. `remove` deletes the dir.
 */
export function mochaFixture(spec: string, options: { config?: Record<string, unknown>; extraArgs?: string[] } = {}): { args: string[]; remove: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-mocha-fixture-"));
    const specFile = path.join(dir, "fixture.test.js");
    fs.writeFileSync(specFile, spec);
    let configFile = MOCHA_CONFIG;
    if (options.config) {
        configFile = path.join(dir, "mocharc.json");
        fs.writeFileSync(configFile, JSON.stringify(options.config));
    }
    const args = [path.join(REPO_ROOT, "node_modules/mocha/bin/mocha.js"), "--config", configFile, ...(options.extraArgs ?? []), specFile];
    return { args, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
