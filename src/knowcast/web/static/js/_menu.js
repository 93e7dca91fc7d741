// The top bar's menus (<details data-menu>): one open at a time, closed by a tap outside or Escape.
export function startMenus() {
  const menus = [.../** @type {NodeListOf<HTMLDetailsElement>} */ (document.querySelectorAll("details[data-menu]"))];
  if (!menus.length) return;
  const closeAll = (except) => menus.forEach((m) => m !== except && m.removeAttribute("open"));
  menus.forEach((m) => m.addEventListener("toggle", () => m.open && closeAll(m)));
  document.addEventListener("click", (e) => {
    if (!menus.some((m) => m.contains(/** @type {Node} */ (e.target)))) closeAll();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const open = menus.find((m) => m.open);
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary")?.focus();
    }
  });
}
