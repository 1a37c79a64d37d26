/**
 * The secrets module (issue 13): the `secrets` table, sealed with AES-256-GCM under REFLEX_SECRETS_KEY
 * (cipher.ts), write-only to the API, resolved by name for a requester its grants name (an automation's
 * webhook at send time, a flow run's getSecret). Services and the SDK use only what this file exports.
 */
export { Secrets, KeyRing, isGranted } from './secrets.ts';
export { keyFrom } from './cipher.ts';
export { SecretAccessDeniedError, SecretsNotConfiguredError, type Requester } from './errors.ts';
export { automationRequester, flowRunRequester } from './requesters.ts';
