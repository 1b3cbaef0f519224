import { SseFieldError } from './errors.js';

/** An event to send. */
export interface SseMessage {
  /**
   * The payload. A string is sent as it is, split into one `data:` line per line (`\n`,
   * `\r\n` and `\r` all count), so no payload can end the event early or start another;
   * anything else is sent as its JSON.
   */
  data?: unknown;
  /** The event type (`addEventListener(type)` in browsers). No line breaks. */
  event?: string | undefined;
  /** The event id, which the client sends back as `Last-Event-ID`. No line breaks or NUL. */
  id?: string | number | undefined;
  /** Tells the client how long to wait before reconnecting, in ms (an integer >= 0). */
  retry?: number | undefined;
}

const BREAK = /[\r\n]/;
const BREAKS = /\r\n|\r|\n/;
const BREAK_OR_NUL = /[\r\n\0]/;

/** @internal Encodes one event as wire text, ending in the blank line that dispatches it. */
export function encodeMessage(msg: SseMessage): string {
  if (typeof msg !== 'object' || msg === null) {
    throw new TypeError('Expected the event to be an object like { data, event, id, retry }');
  }
  let out = '';
  const { event, id, retry, data } = msg;
  if (event !== undefined) {
    if (typeof event !== 'string' || BREAK.test(event)) {
      throw new SseFieldError(
        'An SSE `event` must be a string without line breaks; one with a line break could forge another event',
      );
    }
    out += `event: ${event}\n`;
  }
  if (id !== undefined) {
    const s = String(id);
    if ((typeof id !== 'string' && typeof id !== 'number') || BREAK_OR_NUL.test(s)) {
      throw new SseFieldError(
        'An SSE `id` must be a string or number without line breaks or NUL; one with a line break could forge another event',
      );
    }
    out += `id: ${s}\n`;
  }
  if (retry !== undefined) {
    if (!Number.isInteger(retry) || retry < 0) {
      throw new SseFieldError(
        `An SSE \`retry\` must be an integer >= 0 (ms), got ${String(retry)}`,
      );
    }
    out += `retry: ${retry}\n`;
  }
  if (data !== undefined) {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    if (text !== undefined) {
      if (!BREAK.test(text)) out += `data: ${text}\n`;
      else for (const line of text.split(BREAKS)) out += `data: ${line}\n`;
    }
  }
  return `${out}\n`;
}

/** @internal Encodes a comment (each line prefixed with `:`), e.g. a keep-alive. */
export function encodeComment(text: string): string {
  if (typeof text !== 'string') throw new TypeError('Expected the comment to be a string');
  let out = '';
  for (const line of text.split(BREAKS)) out += line === '' ? ':\n' : `: ${line}\n`;
  return `${out}\n`;
}
