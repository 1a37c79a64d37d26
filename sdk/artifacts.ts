import type { Artifact } from '../schemas/artifact.ts';
import { artifactData, checkDescription, checkKey, checkProgress, type ArtifactContent } from '../modules/artifacts/index.ts';
import { resolveClient, type EngineClient } from './client.ts';
import { runContext } from './context.ts';

/**
 * Artifacts from flow code (Prefect's create_*_artifact): stored with the current flow run and task run.
 * The content is checked in this process first, so bad input throws at the call with the reason
 * (ValidationError / PayloadTooLargeError, with field paths) and nothing is written.
 * Each resolves with the artifact's id, or null when the run is not recorded (engine unreachable).
 */

export interface ArtifactOptions {
  /** Lowercase letters, digits and `-`: each call with the key adds a version; the newest is current. */
  key?: string;
  description?: string;
}

export interface TableArtifactOptions extends ArtifactOptions {
  /** A list of records (`[{ region: 'eu', total: 3 }]`) or a record of columns (`{ region: ['eu'], total: [3] }`). */
  table: readonly Record<string, unknown>[] | Record<string, readonly unknown[]>;
}
export interface MarkdownArtifactOptions extends ArtifactOptions {
  markdown: string;
}
export interface LinkArtifactOptions extends ArtifactOptions {
  /** An absolute http(s) URL. */
  link: string;
  linkText?: string;
}
export interface ProgressArtifactOptions extends ArtifactOptions {
  /** 0 to 100. */
  progress: number;
}

async function create(content: ArtifactContent, options: ArtifactOptions): Promise<string | null> {
  // Checked before any connection: a mistake fails the same way recorded or not.
  checkKey(options.key);
  checkDescription(options.description);
  artifactData(content);
  const ctx = runContext.getStore();
  const client: EngineClient | null = ctx ? ctx.client : await resolveClient();
  if (!client) return null;
  const release = ctx ? undefined : client.hold();
  try {
    const artifact: Artifact = await client.artifacts.create({
      content,
      key: options.key ?? null,
      description: options.description ?? null,
      flow_run_id: ctx?.flowRunId ?? null,
      task_run_id: ctx?.taskRunId ?? null,
    });
    return artifact.id;
  } finally {
    release?.();
  }
}

export function createTableArtifact(options: TableArtifactOptions): Promise<string | null> {
  return create({ type: 'table', table: options.table }, options);
}

export function createMarkdownArtifact(options: MarkdownArtifactOptions): Promise<string | null> {
  return create({ type: 'markdown', markdown: options.markdown }, options);
}

export function createLinkArtifact(options: LinkArtifactOptions): Promise<string | null> {
  return create({ type: 'link', url: options.link, text: options.linkText }, options);
}

/** A progress artifact the run moves forward with `updateProgressArtifact(id, n)`. */
export function createProgressArtifact(options: ProgressArtifactOptions): Promise<string | null> {
  return create({ type: 'progress', progress: options.progress }, options);
}

/** Sets a progress artifact's value (0 to 100) in place. A null id (run not recorded) is a no-op. */
export async function updateProgressArtifact(id: string | null, progress: number): Promise<void> {
  checkProgress(progress);
  if (id === null) return;
  const ctx = runContext.getStore();
  const client = ctx ? ctx.client : await resolveClient();
  if (!client) return;
  const release = ctx ? undefined : client.hold();
  try {
    await client.artifacts.updateProgress(id, progress);
  } finally {
    release?.();
  }
}
