/**
 * The scenario of `npm run bench -- e2e`, shared by its processes: one automation, "`order.created` with
 * `payload.amount > 100` → call-webhook to a receiver on loopback", and events of which half qualify.
 * Every event carries its number `n` in its payload, and the webhook's body (the triggering event, the
 * action's default) carries it to the receiver, which is how a delivery is matched to its request.
 */

/** Even numbers qualify (amount 150), odd ones do not (amount 50). */
export const qualifies = (n: number): boolean => n % 2 === 0;

export function eventBody(n: number): string {
  return JSON.stringify({ event: 'order.created', resource: { 'reflex.resource.id': `order.${n}` }, payload: { amount: qualifies(n) ? 150 : 50, n } });
}

/** The automation as a user creates it through the API: nothing but the defaults. */
export function automation(receiverUrl: string): Record<string, unknown> {
  return {
    name: 'bench-e2e: big orders to the receiver',
    trigger: { type: 'event', expect: ['order.created'], condition: { '>': [{ var: 'event.payload.amount' }, 100] } },
    actions: [{ type: 'call-webhook', url: `${receiverUrl}/orders` }],
  };
}

/** The event number in a body the receiver got: a Reflex webhook (the event) or the baseline's (the request). */
export function eventNumber(body: unknown): number | undefined {
  const n = (body as { payload?: { n?: unknown } } | null)?.payload?.n;
  return typeof n === 'number' ? n : undefined;
}
