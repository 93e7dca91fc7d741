// Loaded on every page.
import { startFilePicks } from "./_file_pick.js";
import { startBell } from "./_growth_bell.js";
import { startMenus } from "./_menu.js";
import { localizeTimes } from "./_time.js";

localizeTimes();
startMenus();
startFilePicks();
const bell = document.querySelector("[data-growth-bell]");
if (bell) startBell(bell);
