import sanitizeHtml from 'sanitize-html';
import { SafeHtml } from './html.js';

const COLOR = [/^#[0-9a-f]{3,8}$/i, /^rgba?\(\s*[\d.\s%,]+\)$/i, /^[a-z]{3,20}$/i];
const LENGTH = /^(?:0|\d{1,4}(?:\.\d{1,3})?(?:px|em|rem|%|pt))$/;
const LENGTHS = /^(?:(?:0|\d{1,4}(?:\.\d{1,3})?(?:px|em|rem|%|pt)|auto)\s*){1,4}$/;

/**
 * What survives in a caller's HTML: sanitize-html's default set of text,
 * list and table tags plus images, links to http(s) and mailto only, no
 * scripts, event handlers, forms, frames or `<style>` blocks, and inline
 * styles limited to a few layout and colour properties whose values cannot
 * load anything (no `url()`, no `expression()`).
 */
const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', 'center', 'font'],
  allowedAttributes: {
    '*': ['style', 'title', 'dir', 'lang', 'align'],
    a: ['href', 'name', 'target'],
    img: ['src', 'alt', 'width', 'height'],
    table: ['width', 'border', 'cellpadding', 'cellspacing', 'bgcolor'],
    td: ['width', 'colspan', 'rowspan', 'valign', 'bgcolor'],
    th: ['width', 'colspan', 'rowspan', 'valign', 'bgcolor', 'scope'],
    font: ['color', 'size', 'face'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowProtocolRelative: false,
  allowedStyles: {
    '*': {
      color: COLOR,
      'background-color': COLOR,
      'text-align': [/^(?:left|right|center|justify)$/],
      'vertical-align': [/^(?:top|middle|bottom|baseline)$/],
      'font-weight': [/^(?:normal|bold|[1-9]00)$/],
      'font-style': [/^(?:normal|italic)$/],
      'font-size': [LENGTH],
      'line-height': [LENGTH, /^\d(?:\.\d{1,2})?$/],
      'text-decoration': [/^(?:none|underline|line-through)$/],
      width: [LENGTH],
      'max-width': [LENGTH],
      height: [LENGTH],
      padding: [LENGTHS],
      margin: [LENGTHS],
      'border-radius': [LENGTHS],
    },
  },
  // The text of these never shows, even though the tags themselves are dropped.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'head', 'template'],
  disallowedTagsMode: 'discard',
};

/**
 * A caller's HTML made safe to send: every tag, attribute, URL scheme and
 * style outside the allowlist above is removed (a well-kept library does the
 * parsing; we only choose the allowlist). A whole document is reduced to the
 * contents of its body.
 */
export function sanitizeCallerHtml(dirty: string): SafeHtml {
  return new SafeHtml(sanitizeHtml(dirty, OPTIONS).trim());
}
