// The embeddable room (/embed/rooms/{id}): the player, the chat (read-only) and the shelf.
import { startPlayer } from "./_player.js";
import { startEmbedChat } from "./_growth_embed.js";

const stage = document.getElementById("stage");
if (stage) {
  startPlayer(stage);
  const chat = stage.querySelector("[data-embed-chat]");
  if (chat) startEmbedChat(chat, stage.dataset.roomId);
}
