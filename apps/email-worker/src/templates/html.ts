/**
 * Escaping for the HTML the templates build. Every interpolated value goes
 * through {@link html}, which escapes it unless it is already {@link SafeHtml},
 * so a payload value can never become markup, in text or in a quoted attribute.
 */

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an HTML text node or a quoted (single or double) attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}

/** Markup that is already safe: built by {@link html}, never from a payload value directly. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = string | number | SafeHtml | readonly SafeHtml[] | undefined;

/** A tagged template: `html\`<p>${name}</p>\`` escapes `name`; nested {@link SafeHtml} stays as is. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value === undefined) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((part: SafeHtml) => part.value).join('');
  return escapeHtml(String(value));
}

/**
 * A URL for an `href`: only absolute http(s) URLs pass (no `javascript:` or
 * `data:`); the result still goes through {@link html}, which escapes it for the
 * attribute.
 */
export function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('a link must be an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`a link must use http or https, not ${url.protocol}`);
  }
  return value;
}

/** Plain text as HTML: blank lines separate paragraphs, single line breaks become `<br>`. */
export function paragraphs(text: string): SafeHtml[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((block) => block.trim())
    .filter((block) => block !== '')
    .map((block) => new SafeHtml(`<p>${block.split('\n').map(escapeHtml).join('<br>\n')}</p>\n`));
}
