// The viewer's room page. Each area of the page is its own module; this entry only starts them.
import { startGrowthRoom } from "./_growth_room.js";
import { startPlayer } from "./_player.js";
import { startRoomLayout } from "./_room_layout.js";
import { startRoomLive } from "./_room_live.js";
import { startShop } from "./_shop.js";
import { startTracking } from "./_track.js";

const stage = document.getElementById("stage");
if (stage) startPlayer(stage);
if (stage) startRoomLayout(stage);
if (stage) startTracking(stage);
if (stage) startRoomLive(stage);
const growth = document.querySelector("[data-growth-room]");
if (growth) startGrowthRoom(growth);
const shop = document.querySelector("[data-shop]");
if (shop) startShop(shop);
