/** The flows module a worker loads by default (REFLEX_FLOWS): every exported flow is registered by name. */
export { etl, loadSummary } from './etl.ts';
