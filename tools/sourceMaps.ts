// Stack traces under ts-node map only the frames of the files ts-node compiled (ours), not every frame.
//
// Why: ts-node installs @cspotcode/source-map-support, whose Error.prepareStackTrace maps every frame of every
// stack through source maps: per frame it clones the V8 CallSite (a closure per method), resolves the path to a
// URL and looks for a map, on disk for files ts-node did not compile. The Pulumi SDK reads `new Error().stack`
// for every promise it makes (runtime/debuggable.js debuggablePromise) and an unbounded stack for every resource
// (resource.js Resource.stackTrace, Error.stackTraceLimit = Infinity), so each program run under the mocks
// formats tens of thousands of frames, nearly all in node_modules. Profiled (node --cpu-prof, the unit suite,
// 2026-11-25, 2-core VM): 24 of its 63 CPU-s were spent under `get stack`, 12 of them cloning call sites.
//
// What changes: a frame of a file ts-node compiles (service.ignored() says no), or of no file (eval), is mapped exactly as before,
// by the same library call, so test failures still point at .ts lines. Any other frame (node_modules,
// node: internals) is printed as V8 prints it, the file and line that actually ran: a package's own .js.map is no
// longer followed to its TypeScript sources. Loaded after ts-node registers (.mocharc.json `require`, and the
// command-line entry points that run the program import it first); without ts-node it does nothing.
// test/unit/sourceMaps.test.ts checks both kinds of frame and that the mocha config installs it.

const TS_NODE_SERVICE = Symbol.for("ts-node.register.instance");

interface TsNodeService {
    ignored(fileName: string): boolean;
}

type PrepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => unknown;

/** Answers per file name: a stack repeats the same few hundred files. */
const compiled = new Map<string, boolean>();

/** True for a file ts-node compiles in this process (the service ts-node registered decides). */
export function compiledByTsNode(fileName: string | null | undefined): boolean {
    const service = (process as unknown as Record<symbol, TsNodeService | undefined>)[TS_NODE_SERVICE];
    if (!service || !fileName) return false;
    let answer = compiled.get(fileName);
    if (answer === undefined) compiled.set(fileName, (answer = !service.ignored(fileName)));
    return answer;
}

/**
 * A frame source-map-support passes through unmapped: it returns frames that say they are native as they are
 * (wrapCallSite) and prints them with toString(), which for a V8 CallSite is V8's own `fn (file:line:col)`.
 */
function printedAsIs(frame: NodeJS.CallSite): NodeJS.CallSite {
    return { isNative: () => true, toString: () => frame.toString() } as unknown as NodeJS.CallSite;
}

/** Wraps a source-mapping prepareStackTrace so that it maps only the frames of files ts-node compiled. */
export function mappingOnlyCompiledFrames(mapping: PrepareStackTrace): PrepareStackTrace & { mapsOnlyCompiledFrames: true } {
    const prepare = function (this: unknown, error: Error, frames: NodeJS.CallSite[]) {
        // A frame without a file name (native code, eval'd code whose origin may be ours) goes through as before.
        return mapping.call(this, error, frames.map((f) => (!f.getFileName() || compiledByTsNode(f.getFileName()) ? f : printedAsIs(f))));
    };
    return Object.assign(prepare, { mapsOnlyCompiledFrames: true as const });
}

/** Installs the wrapper over the current Error.prepareStackTrace, once, when ts-node has registered. */
export function installMappingOnlyCompiledFrames(): boolean {
    const current = Error.prepareStackTrace as (PrepareStackTrace & { mapsOnlyCompiledFrames?: true }) | undefined;
    const registered = !!(process as unknown as Record<symbol, unknown>)[TS_NODE_SERVICE];
    if (!registered || typeof current !== "function") return false;
    if (!current.mapsOnlyCompiledFrames) Error.prepareStackTrace = mappingOnlyCompiledFrames(current);
    return true;
}

installMappingOnlyCompiledFrames();
