// Shows every <time datetime="..."> in the reader's own time zone and language.
export function localizeTimes(root = document) {
  const lang = document.documentElement.lang || "zh-CN";
  const format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) el.textContent = format.format(when);
  }
}
