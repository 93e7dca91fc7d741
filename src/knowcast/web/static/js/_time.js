// Dates and times in the reader's language and the shop's time zone (<html data-time-zone>, the TIMEZONE
// setting, default Asia/Shanghai): a schedule reads the same for everyone, the way the host announced it.
export function timeZone() {
  return document.documentElement.dataset.timeZone || undefined;
}

export function lang() {
  return document.documentElement.lang || "zh-CN";
}

export function dateTimeFormat(options) {
  try {
    return new Intl.DateTimeFormat(lang(), { timeZone: timeZone(), ...options });
  } catch {
    return new Intl.DateTimeFormat(lang(), options); // an unknown zone name: the reader's own clock, not a crash
  }
}

export function localizeTimes(root = document) {
  const format = dateTimeFormat({ dateStyle: "medium", timeStyle: "short" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) el.textContent = format.format(when);
  }
}
