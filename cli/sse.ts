import type { ReflexEvent } from '../schemas/event.ts';

/** Parses a Server-Sent Events body into the JSON of each `data:` message; comments (pings) are skipped. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ReflexEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data) yield JSON.parse(data) as ReflexEvent;
    }
  }
}
