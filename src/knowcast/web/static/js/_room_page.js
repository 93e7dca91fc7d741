// The live room's single bundle (scripts/build-web.mjs): the code every page runs, then the room's.
import "./app.js";
import "./room.js";
