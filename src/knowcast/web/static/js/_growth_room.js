// Growth on the room page: follow the host or the channel, book a reminder (预约). State comes from the API.
import { api } from "./_api.js";
import { formatMessage } from "./_messages.js";

function fill(template, n) {
  return formatMessage(template, { n });
}

async function followButton(root, button) {
  const kind = button.dataset.growthFollow;
  const path = kind === "host" ? `/api/v1/hosts/${root.dataset.hostId}/follow` : "/api/v1/channel/follow";
  const label = (state) => root.dataset[`t${state.following ? "Following" : "Follow"}${kind === "host" ? "Host" : "Channel"}`];
  const show = (state) => {
    button.textContent = label(state);
    button.classList.toggle("secondary", state.following);
    button.dataset.following = String(state.following);
    if (kind === "host") root.querySelector("[data-growth-followers]").textContent = fill(root.dataset.tFollowers, state.followers);
  };
  try {
    show(await api("GET", path));
  } catch {
    return; // the host may be gone; the button stays disabled
  }
  button.disabled = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      show(await api(button.dataset.following === "true" ? "DELETE" : "PUT", path));
    } catch (error) {
      button.title = error.message;
    } finally {
      button.disabled = false;
    }
  });
}

async function reminderButton(root, button) {
  const path = `/api/v1/rooms/${root.dataset.roomId}/reminder`;
  const count = root.querySelector("[data-growth-reminders]");
  const show = (state) => {
    button.textContent = state.booked ? root.dataset.tReminded : root.dataset.tRemind;
    button.dataset.booked = String(state.booked);
    button.classList.toggle("secondary", state.booked);
    if (count) count.textContent = fill(root.dataset.tReminders, state.reminders);
  };
  show(await api("GET", path));
  button.disabled = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      show(await api(button.dataset.booked === "true" ? "DELETE" : "PUT", path));
    } catch (error) {
      button.title = error.message;
    } finally {
      button.disabled = false;
    }
  });
}

export function startGrowthRoom(root) {
  const signedIn = root.dataset.signedIn === "true";
  for (const button of root.querySelectorAll("[data-growth-follow]")) {
    if (signedIn) followButton(root, button);
  }
  const remind = root.querySelector("[data-growth-remind]");
  if (remind && signedIn) reminderButton(root, remind);
}
