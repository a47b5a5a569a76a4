// tools/sourceMaps.ts: under ts-node, stack traces map the frames of our TypeScript to .ts lines as before, and
// print every other frame as V8 does (why: that file's header). Each check has a control showing what it tells apart.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { compiledByTsNode } from "../../tools/sourceMaps";
import { MOCHA_CONFIG, mochaFixture, REPO_ROOT } from "../support/mochaFixture";
import { testTimeout } from "../support/timeouts";


/** A test that passes only if the process's stack formatter is the one tools/sourceMaps.ts installs. */
const CHECKS_THE_FORMATTER = `
it("runs with the formatter that maps only compiled frames", () => {
    if (Error.prepareStackTrace?.mapsOnlyCompiledFrames !== true) throw new Error("not installed: " + Error.prepareStackTrace);
});
`;

/** Runs real mocha with `config` (the repository's, or a changed copy) on CHECKS_THE_FORMATTER; its exit status and output. */
function mochaWith(config: Record<string, unknown>): { status: number | null; output: string } {
    const { args, remove } = mochaFixture(CHECKS_THE_FORMATTER, { config: { ...config, exit: true } });
    try {
        const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: "utf8", timeout: testTimeout(60000), killSignal: "SIGKILL" });
        return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ""}` };
    } finally {
        remove();
    }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sourceMapSupport = require("@cspotcode/source-map-support") as { wrapCallSite(frame: NodeJS.CallSite): NodeJS.CallSite };

/** The V8 call sites of an error made by `make` (the structured stack, before any formatting). */
function callSites(make: () => Error): NodeJS.CallSite[] {
    const saved = Error.prepareStackTrace;
    Error.prepareStackTrace = (_error, frames) => frames;
    try {
        return make().stack as unknown as NodeJS.CallSite[];
    } finally {
        Error.prepareStackTrace = saved;
    }
}

function errorHere(): Error {
    return new Error("made here"); // the stack marker line
}

function errorInEval(): Error {
    return eval('new Error("made in eval")') as Error; // the eval marker line
}

/** The line of this file's source that holds `marker`. */
function tsLineOf(marker: string): number {
    return fs.readFileSync(__filename, "utf8").split("\n").findIndex((l) => l.includes(marker) && !l.includes("tsLineOf(")) + 1;
}

describe("stack traces map only the frames of files ts-node compiled (tools/sourceMaps.ts)", () => {
    it("is what the repository's mocha config installs, over ts-node's source-map-support", function () {
        this.timeout(testTimeout(130000));
        const config = JSON.parse(fs.readFileSync(MOCHA_CONFIG, "utf8")) as { require: string[] };
        const withIt = mochaWith(config);
        assert.equal(withIt.status, 0, withIt.output);
        // Control: without the module in the config's require list, the same test fails.
        const without = mochaWith({ ...config, require: config.require.filter((r) => !r.includes("sourceMaps")) });
        assert.notEqual(without.status, 0, without.output);
        assert.match(without.output, /not installed/);
    });

    it("asks ts-node which files it compiles", () => {
        assert.equal(compiledByTsNode(__filename), true);
        assert.equal(compiledByTsNode(require.resolve("@pulumi/pulumi/config.js")), false);
        assert.equal(compiledByTsNode(undefined), false);
    });

    it("prints a frame of our TypeScript at its .ts line, where the compiled JavaScript line differs", () => {
        const tsLine = tsLineOf("// the stack marker line");
        const stack = errorHere().stack!;
        assert.match(stack, new RegExp(`errorHere \\(${__filename.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:${tsLine}:\\d+\\)`), stack);
        // Control: the line that ran, in ts-node's output, is another one, so the match above needs the mapping.
        const [ran] = callSites(errorHere);
        assert.equal(ran.getFileName(), __filename);
        assert.notEqual(ran.getLineNumber(), tsLine);
    });

    it("maps the origin of eval'd code in our TypeScript, as before", () => {
        const tsLine = tsLineOf("// the eval marker line");
        const stack = errorInEval().stack!;
        assert.ok(stack.includes(`eval at errorInEval (${__filename}:${tsLine}:`), stack);
        // Control: the origin that ran, in ts-node's output, is on another line.
        const [evalFrame] = callSites(errorInEval);
        assert.equal(evalFrame.getFileName(), undefined);
        assert.ok(!String(evalFrame.getEvalOrigin()).includes(`:${tsLine}:`), String(evalFrame.getEvalOrigin()));
    });

    it("prints a frame in node_modules as V8 does: the .js file and line that ran, not the package's own source map", () => {
        // Config.require throws from @pulumi/pulumi/config.js, which ships config.js.map.
        const requireMissing = (): Error => {
            try {
                new pulumi.Config("sourcemaps-test").require("never-set");
            } catch (e) {
                return e as Error;
            }
            throw new Error("Config.require returned for a key that was never set");
        };
        const frame = callSites(requireMissing).find((f) => /node_modules\/@pulumi\/pulumi\/config\.js$/.test(f.getFileName() ?? ""));
        assert.ok(frame, "a frame in @pulumi/pulumi/config.js");
        const stack = requireMissing().stack!;
        assert.ok(stack.includes(`(${frame.getFileName()}:${frame.getLineNumber()}:${frame.getColumnNumber()})`), stack);
        // Control: the package ships a source map, which source-map-support, asked for every frame, would follow.
        assert.match(String(sourceMapSupport.wrapCallSite(frame).getFileName()), /config\.ts$/);
        assert.ok(!stack.includes("config.ts"), stack);
    });
});
