/**
 * The webhooks module: outgoing deliveries (the delivery log: `webhook_deliveries`, `webhook_attempts`,
 * the webhook-deliveries queue) and incoming endpoints (`webhook_endpoints`, `webhook_failed_requests`,
 * rendering a request into an event, signature checks). The webhook service sends; the API manages and
 * receives. Services use only what this file exports.
 */
export { DeliveryQueue } from './enqueue.ts';
export { DeliveryLog, expiredClaims, releaseClaims, type DeliveryState, type AttemptWrite, type BeginOptions, type ExpiredClaim } from './delivery-log.ts';
// Sending (the webhook service's jobs, and the automations service's direct first attempts).
export { WebhookSender, type PreparedAttempt, type RecordedAttempt } from './sender.ts';
export { AddressGuard, BlockedDestinationError } from './address-guard.ts';
export { HostLimiter } from './host-limiter.ts';
export { SecretFiller, type SecretSource, type Filled } from './secret-fill.ts';
export type { HttpOutcome } from './http.ts';
export {
  getDelivery,
  listDeliveries,
  startReplay,
  attemptsWithRequests,
  failingReceivers,
  failedDeliveriesByAutomation,
  type DeliveryView,
  type AttemptRecord,
  type DeliveryFilter,
  type DeliveryStatus,
} from './deliveries.ts';
export { attemptHeaders, WEBHOOK_USER_AGENT, type AttemptRequest, type AttemptSigning } from './request-headers.ts';
export {
  createEndpoint,
  deleteEndpoint,
  endpointView,
  getEndpoint,
  getEndpointBySlug,
  listEndpoints,
  listFailedRequests,
  failingEndpoints,
  recordFailedRequest,
  renderIncomingEvent,
  IncomingRequestError,
  type EndpointRecord,
  type EndpointView,
  type IncomingRequest,
} from './incoming.ts';
export { verifyRequest, secretProblem, SIGNATURE_TOLERANCE_SECONDS, type Verification, type Verdict } from './incoming-verify.ts';
// run control (issue 15): metric triggers
export { deliveryFailureRate } from './delivery-measures.ts';
