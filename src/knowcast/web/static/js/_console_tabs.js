// The console's tabs (Stream · Shelf and pins · Promotions · Interaction · Data): one screen at a time. The
// chosen tab is kept in the address (#tab-shelf), so a reload or a shared link opens the same one, and for the
// room in this browser tab (sessionStorage), so the page a form posts back to (go live, save) opens it too.
const TABS = ["stream", "shelf", "promotions", "interaction", "data"];

export function startConsoleTabs(root) {
  const buttons = [...root.querySelectorAll("[data-tab-button]")];
  const panels = root.querySelector("[role=tabpanel]");
  const remembered = `knowcast:console-tab:${root.closest("[data-room-id]")?.dataset.roomId || ""}`;
  const show = (tab, focus = false) => {
    root.dataset.tab = tab;
    try {
      sessionStorage.setItem(remembered, tab);
    } catch {
      // storage may be off (private mode): the tab is still in the address
    }
    for (const button of buttons) {
      const on = button.dataset.tabButton === tab;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      if (on && focus) button.focus();
    }
    if (panels) {
      panels.setAttribute("aria-labelledby", `tab-${tab}`);
      panels.scrollTop = 0;
    }
    document.dispatchEvent(new CustomEvent("knowcast:console-tab", { detail: { tab } }));
  };
  const fromHash = () => {
    const wanted = location.hash.replace(/^#tab-/, "");
    return TABS.includes(wanted) ? wanted : null;
  };
  for (const button of buttons) {
    button.addEventListener("click", () => {
      show(button.dataset.tabButton);
      history.replaceState(null, "", `#tab-${button.dataset.tabButton}`);
    });
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const index = (TABS.indexOf(root.dataset.tab) + step + TABS.length) % TABS.length;
      show(TABS[index], true);
      history.replaceState(null, "", `#tab-${TABS[index]}`);
    });
  }
  window.addEventListener("hashchange", () => {
    const tab = fromHash();
    if (tab) show(tab);
  });
  let stored;
  try {
    stored = sessionStorage.getItem(remembered);
  } catch {
    stored = null;
  }
  show(fromHash() || (TABS.includes(stored) ? stored : null) || root.dataset.tab || "stream");
}
