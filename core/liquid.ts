import { Liquid, type Template } from 'liquidjs';

const noFs = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file: string): Promise<string> => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file: string): string => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_dir: string, file: string) => file,
};

/** Longest a render may take, wall time, before it fails with "template render limit exceeded". */
export const TEMPLATE_RENDER_LIMIT_MS = 1_000;
/** Longest a render runs without letting other work of the process in (I/O, timers, other requests). */
export const TEMPLATE_SLICE_MS = 5;

/**
 * The one Liquid configuration for user-written templates (automation actions, incoming webhooks): no
 * file system (include/render/layout fail), unknown filters are errors, only own properties are visible,
 * and parse/render/memory limits cut off runaway templates. No user code ever executes.
 *
 * Rendering is cooperative. liquidjs's own async render only ever awaits microtasks, so a template that
 * loops for its whole render limit held the event loop for a second per render (3 events × 3 actions
 * delayed another client's ingest by 1.7 s). These renders drive liquidjs's render generators themselves
 * and give the event loop a turn every TEMPLATE_SLICE_MS, so a hostile template costs other work at most
 * one slice at a time; the render limit still ends it. A normal template renders in microseconds and never
 * yields.
 */
export interface SandboxedLiquid {
  parse(source: string): Template[];
  render(templates: Template[], scope: object): Promise<string>;
  parseAndRender(source: string, scope: object): Promise<string>;
  /** The value of one expression (`event.payload.total | plus: 1`), with its type. */
  evalValue(expression: string, scope: object): Promise<unknown>;
  /**
   * Synchronous render, for flow-control keys only: those are output-only templates (no tags, so no
   * loops), checked at save time, rendered inside the pure evaluator.
   */
  renderSync(templates: Template[], scope: object): string;
}

export function createSandboxedLiquid(): SandboxedLiquid {
  const liquid = new Liquid({
    fs: noFs,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    parseLimit: 100_000,
    renderLimit: TEMPLATE_RENDER_LIMIT_MS,
    memoryLimit: 10_000_000,
  });
  return {
    parse: (source) => liquid.parse(source),
    render: (templates, scope) => drive(liquid._render(templates, scope, { sync: false })) as Promise<string>,
    parseAndRender: (source, scope) => drive(liquid._parseAndRender(source, scope, { sync: false })) as Promise<string>,
    evalValue: (expression, scope) => drive(liquid._evalValue(expression, scope)),
    renderSync: (templates, scope) => liquid.renderSync(templates, scope) as string,
  };
}

type Step = Iterator<unknown, unknown, unknown>;

const isIterator = (v: unknown): v is Step =>
  typeof v === 'object' && v !== null && typeof (v as Step).next === 'function' && typeof (v as Step).throw === 'function' && typeof (v as Step).return === 'function';
const isPromise = (v: unknown): v is PromiseLike<unknown> => typeof v === 'object' && v !== null && typeof (v as PromiseLike<unknown>).then === 'function';

/**
 * One slice clock for the whole process: renders run at most TEMPLATE_SLICE_MS together before the event
 * loop gets a turn (nine renders yielding each on their own clock took 45 ms of every turn, and a request
 * that needs a dozen turns waited half a second).
 */
let active = 0;
let sliceStart = 0;
let nextTurn: Promise<void> | null = null;

function turn(): Promise<void> {
  nextTurn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      nextTurn = null;
      sliceStart = performance.now();
      resolve();
    }),
  );
  return nextTurn;
}

/**
 * Runs a liquidjs render generator to its value as liquidjs's own `toPromise` does (a yielded or returned
 * generator is run for its value, a promise awaited, an error thrown back into the generator), on the
 * process's slice clock.
 */
async function drive(root: unknown): Promise<unknown> {
  if (active++ === 0) sliceStart = performance.now();
  try {
    return await run(root);
  } finally {
    active--;
  }
}

async function run(gen: unknown): Promise<unknown> {
  if (!isIterator(gen)) return gen;
  let value: unknown;
  let method: 'next' | 'throw' = 'next';
  for (;;) {
    const state = method === 'next' ? gen.next(value) : gen.throw!(value);
    method = 'next';
    value = state.value;
    try {
      if (isIterator(value)) value = await run(value);
      else if (isPromise(value)) value = await value;
      if (performance.now() - sliceStart > TEMPLATE_SLICE_MS) await turn();
    } catch (err) {
      if (state.done) throw err;
      method = 'throw';
      value = err;
    }
    if (state.done) return value;
  }
}
