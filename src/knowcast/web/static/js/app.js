// Loaded on every page.
import { startBell } from "./_growth_bell.js";
import { localizeTimes } from "./_time.js";

localizeTimes();
const bell = document.querySelector("[data-growth-bell]");
if (bell) startBell(bell);
