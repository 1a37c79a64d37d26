import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/**
 * JetStream API errors by their codes (never by message text). The client names a few codes; the others
 * are the server's (`nats-server/server/errors.json`).
 */
export const JetStreamCodes = {
  StreamNotFound: JetStreamApiCodes.StreamNotFound,
  ConsumerNotFound: JetStreamApiCodes.ConsumerNotFound,
  /** JSStreamNameExistErr: created meanwhile by another replica. */
  StreamNameInUse: 10058,
  /** JSConsumerNameExistErr and JSConsumerAlreadyExists (2.10+). */
  ConsumerNameInUse: 10013,
  ConsumerAlreadyExists: 10148,
} as const;

export function jetStreamCode(err: unknown): number | null {
  return err instanceof JetStreamApiError ? err.code : null;
}

export const isStreamNotFound = (err: unknown) => jetStreamCode(err) === JetStreamCodes.StreamNotFound;
export const isConsumerNotFound = (err: unknown) => jetStreamCode(err) === JetStreamCodes.ConsumerNotFound;
export const isAlreadyCreated = (err: unknown) => {
  const code = jetStreamCode(err);
  return code === JetStreamCodes.StreamNameInUse || code === JetStreamCodes.ConsumerNameInUse || code === JetStreamCodes.ConsumerAlreadyExists;
};
