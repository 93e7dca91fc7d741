// Loaded on every page.
import { localizeTimes } from "./_time.js";

localizeTimes();
