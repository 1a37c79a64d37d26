/**
 * The artifacts module: what runs show people (tables, markdown, links, progress), versioned by key. It
 * owns the table `artifacts` (migrations/0350). A module of its own rather than part of modules/runs:
 * artifacts only point at runs (no transition or batching of the run writer is involved), and keeping them
 * apart keeps the runs module's contract the run lifecycle alone.
 * Services and the SDK use only what this file exports.
 */
export { Artifacts, type CreateArtifactInput } from './store.ts';
export { artifactData, checkKey, checkDescription, checkProgress, ARTIFACT_MAX_BYTES, ARTIFACT_DESCRIPTION_MAX, type ArtifactContent } from './content.ts';
