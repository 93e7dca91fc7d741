// ICU messages in the browser (npm intl-messageformat), the twin of knowcast/messages.py on the server: catalog strings
// like "{count, plural, one {# vote} other {# votes}}" read right in the page's language. Money is _format.js's `money`, as
// the server writes it.
import { IntlMessageFormat } from "intl-messageformat";
import { money } from "./_format.js";

const cache = new Map();

export function lang() {
  return document.documentElement.lang || "zh-CN";
}

export function formatMessage(message, values = {}) {
  if (!message) return "";
  let compiled = cache.get(message);
  if (!compiled) {
    try {
      compiled = new IntlMessageFormat(message, lang());
    } catch {
      compiled = { format: () => message }; // a broken catalog string shows as written, not as an error
    }
    cache.set(message, compiled);
  }
  try {
    return String(compiled.format(values));
  } catch {
    return message;
  }
}

/**
 * A system chat line ("小李 买了…", a coupon drop) in this page's language: its catalog key (`message`) and
 * `params` from the event (docs/protocol.md, "System lines"); a line without a key (or with a key this page has
 * no string for) shows its stored `text`, which is in the shop's default language.
 * @param {{message?: string, params?: Record<string, string | number>, text?: string, event?: string}} item
 * @param {Record<string, string>} strings
 */
export function systemText(item, strings) {
  const message = item.message && strings[item.message];
  if (!message || !item.params) return item.text || strings[`event.${item.event}`] || item.event || "";
  /** @type {Record<string, string | number>} */
  const values = { ...item.params };
  if (typeof values.price === "number") values.price = money(values.price, String(values.currency || "CNY"));
  return formatMessage(message, values);
}
