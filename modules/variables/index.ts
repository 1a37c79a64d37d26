/**
 * The variables module (issue 13): the `variables` table of named JSON values, read by the API, the
 * CLI, flows (getVariable/setVariable) and automation templates (`{{ variables.<name> }}`, through a
 * short cache). Services and the SDK use only what this file exports.
 */
export { listVariables, findVariable, getVariable, createVariable, putVariable, deleteVariable, VariableCache } from './variables.ts';
