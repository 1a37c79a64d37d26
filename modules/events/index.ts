/**
 * The events module: owns the `events` table (stored by the recorder, read by the query API, the live
 * stream's history and the backtest) and `dead_letters` (what the recorder could not store). Services use
 * only what this file exports.
 */
export { queryEvents, streamStoredEvents, getEvent, countEventsBy, type EventQuery, type EventPage, type EventOrder } from './event-table.ts';
export { insertEventDocuments, insertEventMessages } from './event-inserts.ts';
export { insertDeadLetter, listDeadLetters, getDeadLetter, countDeadLetters, markReplayed, deleteDeadLetter, type DeadLetter, type DeadLetterDetail } from './dead-letters.ts';
