// The host console: the stream key is hidden until asked for and can be copied in one tap.
import { startCamera } from "./_camera.js";
import { startConsoleLive } from "./_console_live.js";
import { startConsoleShop } from "./_console_shop.js";
import { startConsoleTabs } from "./_console_tabs.js";
import { startDashboard } from "./_dashboard.js";
import { startGrowthConsole } from "./_growth_console.js";
import { startHealth } from "./_health.js";
import { startStageConsole } from "./_stage_console.js";

const tabs = document.querySelector("[data-console-tabs]");
if (tabs) startConsoleTabs(tabs);
const camera = document.querySelector("[data-testid=camera]");
if (camera) startCamera(camera);
const stage = document.querySelector("[data-testid=stage]");
if (stage instanceof HTMLElement) startStageConsole(stage);
const health = document.querySelector("[data-testid=stream-health]");
if (health) startHealth(health);
const dashboard = document.getElementById("analytics-live");
if (dashboard) startDashboard(dashboard);
const livePanel = document.getElementById("live-console");
if (livePanel) startConsoleLive(livePanel);
/** @type {HTMLElement | null} */
const key = document.querySelector("[data-testid=stream-key]");
if (key) {
  const secret = key.textContent;
  const masked = "•".repeat(12);
  key.textContent = masked;
  key.title = "click to show / copy";
  key.style.cursor = "pointer";
  key.addEventListener("click", async () => {
    key.textContent = key.textContent === masked ? secret : masked;
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      // clipboard access is refused on plain http; showing the key is enough
    }
  });
}
startGrowthConsole();
const shopConsole = document.getElementById("shop-console");
if (shopConsole) startConsoleShop(shopConsole);
