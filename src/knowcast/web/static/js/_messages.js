// ICU messages in the browser (npm intl-messageformat), the twin of web/messages.py on the server: catalog strings
// like "{count, plural, one {# vote} other {# votes}}" read right in the page's language. Money is _format.js's `money`, as
// the server writes it.
import { IntlMessageFormat } from "intl-messageformat";

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
