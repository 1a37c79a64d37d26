import { Liquid } from 'liquidjs';

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

/**
 * The one Liquid configuration for user-written templates (automation actions, incoming webhooks): no
 * file system (include/render/layout fail), unknown filters are errors, only own properties are visible,
 * and parse/render/memory limits cut off runaway templates. No user code ever executes.
 */
export function createSandboxedLiquid(): Liquid {
  return new Liquid({
    fs: noFs,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    parseLimit: 100_000,
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
  });
}
