// The room's layout in the browser (styles: static/css/room.css): the stream's orientation, the bottom sheets
// (one open at a time; the chat rises above the open one so its newest line stays in sight), the chat kept
// at its newest line, the poll chip, the bag's item count, share, and the room ending without a reload.
const STICK_PX = 48;

export function startRoomLayout(stage) {
  watchOrientation(stage);
  const sheets = startSheets(stage);
  keepChatAtNewest(document.getElementById("chat-lines"));
  startPollChip(stage, sheets);
  startShare(stage);
  startEnding(stage, sheets);
  return sheets;
}

// portrait streams fill the phone's screen; landscape ones sit on top with the room below (CSS reads the attribute)
function watchOrientation(stage) {
  const video = stage.querySelector("video");
  if (!video) return;
  const apply = () => {
    if (!video.videoWidth || !video.videoHeight) return;
    stage.dataset.orientation = video.videoWidth > video.videoHeight ? "landscape" : "portrait";
  };
  video.addEventListener("loadedmetadata", apply);
  video.addEventListener("resize", apply);
  apply();
}

function startSheets(stage) {
  const all = () => [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".sheet"))];
  let lastOpener = null;
  const sizeObserver = new ResizeObserver(() => measure());

  function measure() {
    const open = all().find((sheet) => !sheet.hidden);
    const height = open ? open.querySelector(".sheet-body").getBoundingClientRect().height : 0;
    stage.style.setProperty("--sheet-h", `${Math.round(height)}px`);
  }

  function sync() {
    const opened = all().filter((sheet) => !sheet.hidden);
    if (opened.length > 1) {
      // a newly opened sheet replaces the one that was open (the shop opens its own without asking us)
      const newer = opened.find((sheet) => sheet.id !== stage.dataset.sheet) || opened[0];
      for (const sheet of opened) if (sheet !== newer) sheet.hidden = true;
    }
    const current = all().find((sheet) => !sheet.hidden);
    if (current) {
      stage.dataset.sheet = current.id;
      sizeObserver.disconnect();
      sizeObserver.observe(current.querySelector(".sheet-body"));
    } else {
      delete stage.dataset.sheet;
      sizeObserver.disconnect();
      if (lastOpener && document.contains(lastOpener)) lastOpener.focus({ preventScroll: true });
      lastOpener = null;
    }
    measure();
  }

  function open(id, opener) {
    const sheet = document.getElementById(id);
    if (!sheet) return;
    lastOpener = opener || document.activeElement;
    for (const other of all()) if (other !== sheet) other.hidden = true;
    sheet.hidden = false;
    /** @type {HTMLElement | null} */
    const focusable = sheet.querySelector("input:not([disabled]), button:not([disabled]):not(.sheet-close)") || sheet.querySelector(".sheet-close");
    if (focusable) focusable.focus({ preventScroll: true });
  }

  function close() {
    for (const sheet of all()) sheet.hidden = true;
  }

  const observer = new MutationObserver(sync);
  for (const sheet of all()) observer.observe(sheet, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("click", (event) => {
    const target = /** @type {Element} */ (event.target);
    /** @type {HTMLElement | null} */
    const opener = target.closest("[data-open-sheet]");
    if (opener) {
      const target = document.getElementById(opener.dataset.openSheet);
      if (target && !target.hidden) close();
      else open(opener.dataset.openSheet, opener);
      return;
    }
    /** @type {HTMLElement | null} */
    const closing = target.closest("[data-close]") && target.closest(".sheet");
    if (closing) closing.hidden = true;
    // a tap on the video closes the open sheet, as in the apps viewers know
    if (stage.dataset.sheet && target.closest(".video-area")) close();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && stage.dataset.sheet) close();
  });
  window.addEventListener("resize", measure);
  sync();
  return { open, close };
}

// The chat list stays at its newest line while the viewer has not scrolled up, also when the space it has
// changes (a sheet opens, a card appears, the keyboard shows).
function keepChatAtNewest(list) {
  if (!list) return;
  let stick = true;
  const toEnd = () => {
    if (stick) list.scrollTop = list.scrollHeight;
  };
  list.addEventListener("scroll", () => {
    stick = list.scrollHeight - list.scrollTop - list.clientHeight < STICK_PX;
  }, { passive: true });
  new ResizeObserver(toEnd).observe(list);
  new MutationObserver(toEnd).observe(list, { childList: true });
}

// An open poll shows a chip; a poll opened while the viewer watches also opens its sheet once.
function startPollChip(stage, sheets) {
  const card = document.getElementById("poll-card");
  const chip = stage.querySelector("[data-chip-for=poll-card]");
  if (!card || !chip) return;
  const sync = () => {
    chip.hidden = card.hidden;
    if (card.hidden && stage.dataset.sheet === "poll-sheet") sheets.close();
  };
  new MutationObserver(sync).observe(card, { attributes: true, attributeFilter: ["hidden"] });
  sync();
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (detail && detail.name === "poll.opened" && !detail.replay) setTimeout(() => sheets.open("poll-sheet", chip), 0);
  });
}

function startShare(stage) {
  const button = stage.querySelector("[data-share]");
  if (!button) return;
  button.addEventListener("click", async () => {
    const url = new URL(window.location.pathname, window.location.origin).href;
    const title = stage.dataset.tShareTitle || document.title;
    try {
      if (navigator.share) {
        await navigator.share({ title, url });
        return;
      }
      await navigator.clipboard.writeText(url);
    } catch (err) {
      if (err && err.name === "AbortError") return; // the viewer closed the share sheet
    }
    notice(stage.dataset.tLinkCopied);
  });
}

function notice(text) {
  const box = document.getElementById("shop-toast");
  if (!box || !text) return;
  box.replaceChildren(text);
  box.hidden = false;
  clearTimeout(Number(box.dataset.timer)); // the shop's toasts share the box and its timer (_shop.js)
  box.dataset.timer = String(setTimeout(() => (box.hidden = true), 4000));
}

// The host ended the stream: at once, without a reload, the room says so, the chat box, cards and sheets
// close (CSS keys on data-state), and the player shows the replay link (static/js/_player.js).
function startEnding(stage, sheets) {
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (!detail || detail.name !== "room.ended") return;
    stage.dataset.state = "ended";
    const badge = stage.querySelector("[data-testid=room-state]");
    if (badge) {
      badge.textContent = stage.dataset.tStateEnded || badge.textContent;
      badge.className = "badge state-ended";
    }
    const input = /** @type {HTMLInputElement | null} */ (document.getElementById("chat-input"));
    if (input) {
      input.disabled = true;
      input.blur();
    }
    sheets.close();
  });
}
