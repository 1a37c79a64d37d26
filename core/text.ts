/** Text as PostgreSQL can store it: its text and jsonb types hold neither NUL nor unpaired UTF-16 surrogates. */

export const SURROGATE = /[\uD800-\uDFFF]/;
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * Text from outside (a receiver's answer, a rejected request body) made storable as it would read on the
 * wire: a lone surrogate becomes U+FFFD as UTF-8 encoding makes it, and so does NUL.
 */
export function storableText(text: string): string {
  const noNul = text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
  return SURROGATE.test(noNul) ? noNul.replace(LONE_SURROGATES, '\uFFFD') : noNul;
}

