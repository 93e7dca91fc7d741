// The viewer's shop inside the room (commerce plane, docs/commerce.md): shelf sheet, pinned card, flash-sale
// countdown and stock, buy now (with the best of the viewer's coupons, or the one they pick) → our checkout
// page → back to the room, coupon drops, lucky draws. The snapshot's `mine` part is this viewer's own: their
// pending orders ("去支付" with the hold time left, also after a reload), what they own ("已购买 · 去学习"),
// and the coupons they hold.
// Live updates arrive as `knowcast:event` CustomEvents (names in docs/protocol.md, "Commerce events").
import { api } from "./_api.js";
import { onLive } from "./_live.js";
import { clock, money } from "./_format.js";
import { NO_MINE, applyMine, pendingFor as pendingIn, sameDrop as sameDropAs, sameSale as sameSaleAs, withHeldHere as withHeld } from "./_shop_state.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// replaceChildren, leaving out the parts that are not there (null, undefined, "")
function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined && child !== ""));
}

function key() {
  return `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

// The pin carries the stream's program date-time: it shows once this viewer's own video has reached it
// (window.knowcast.player.programDate(), set by _player.js). With no player, no program time, or no stream
// playing, at once; a stream that gives no program date within PIN_WAIT_MS does not hold the pin back either.
const PIN_POLL_MS = 200;
const WELCOME_WAIT_MS = 5000; // how long the shop waits for the live socket's welcome before asking the route
const PIN_WAIT_MS = 10000;

function pinReached(at, since) {
  const player = window.knowcast && window.knowcast.player;
  if (!at || Number.isNaN(at.getTime()) || !player || typeof player.programDate !== "function") return true;
  const date = player.programDate();
  if (date instanceof Date && !Number.isNaN(date.getTime())) return date >= at;
  const streaming = typeof player.streaming === "function" && player.streaming();
  return !streaming || Date.now() - since > PIN_WAIT_MS;
}

export function startShop(root) {
  const roomId = root.dataset.roomId;
  const t = JSON.parse(root.dataset.strings || "{}");
  const signedIn = root.dataset.signedIn === "1";
  const $ = (id) => root.querySelector(`#${id}`);
  const state = { shelf: [], sale: null, drop: null, draw: null, variants: {}, pinTimer: null, reloadTimer: null, mine: null, grabButton: null, payButton: null };

  // ---- the viewer's own part: pending orders (within their hold), owned products, held coupons ----------
  const mineNow = () => state.mine || NO_MINE;
  const pendingFor = (productId, saleId = null) => pendingIn(mineNow(), productId, saleId, Date.now());
  const owns = (productId) => mineNow().owned.includes(productId);
  // an order this page just won: the viewer's own until a snapshot lists it (one read before the win does not),
  // so a late snapshot or replay never takes "去支付" away while its hold runs
  /** @type {import("./_shop_state.js").PendingOrder[]} */
  const wonHere = [];
  function heldHere(order, productId) {
    const entry = { order_id: order.id, product_id: productId, total: order.total, currency: order.currency, reserved_until: order.reserved_until, flash_sale_id: order.flash_sale_id };
    wonHere.push(entry);
    state.mine = withHeldHere(mineNow());
  }
  const withHeldHere = (mine) => withHeld(mine, wonHere, Date.now());
  const toCheckout = (orderId) => window.location.assign(`/checkout/${orderId}`);

  // A viewer in the host's experiments sees their own price, card, pitch and coupon value, which only the
  // snapshot carries (room events are the same for everyone): reload it, spread out, when those change.
  const personal = () => Object.keys(state.variants || {}).length > 0;
  const mine = (product) => state.shelf.find((entry) => entry.product.id === product.id) || { product };
  function reloadSoon() {
    clearTimeout(state.reloadTimer);
    state.reloadTimer = setTimeout(() => load().catch(() => {}), Math.random() * 1500);
  }

  function toast(text, link) {
    const box = $("shop-toast");
    fill(box, text, link ? el("a", { href: link.href, "data-testid": "toast-link" }, link.text) : "");
    box.hidden = false;
    clearTimeout(Number(box.dataset.timer)); // the room's notices share the box and its timer (_room_layout.js)
    box.dataset.timer = String(setTimeout(() => (box.hidden = true), 8000));
  }

  function needSignIn() {
    if (signedIn) return false;
    window.location.href = `/signin?next=${encodeURIComponent(window.location.pathname)}`;
    return true;
  }

  // The best coupon the viewer holds for this buy (as Douyin does), unless they picked one (or none: "")
  async function bestCoupon(item) {
    if (!mineNow().coupons.length) return null;
    const quote = await api("POST", "/api/v1/coupons/quote", { items: [item], room_id: Number(roomId) });
    return quote.best_code;
  }

  // A buy goes to our checkout page (coupon, pay method, hold time); a product already waiting for payment
  // goes straight to its order (the server reuses it too).
  async function buy(product, extra = {}, coupon = undefined) {
    if (needSignIn()) return;
    const waiting = extra.slot_id ? null : pendingFor(product.id);
    if (waiting) {
      toCheckout(waiting.order_id);
      return;
    }
    try {
      const item = { product_id: product.id, quantity: 1, ...extra };
      const code = coupon === undefined ? await bestCoupon(item).catch(() => null) : coupon;
      const body = { items: [item], room_id: Number(roomId), idempotency_key: key(), ...(code ? { coupon_code: code } : {}) };
      const order = await api("POST", "/api/v1/orders", body);
      toCheckout(order.id);
    } catch (err) {
      toast(err.message || t.error);
    }
  }

  // "去支付 04:59" for a pending order, "已购买 · 去学习" for an owned product, else the buy button
  function buyAction(product, onBuy, cls = "button small", testid = "pinned-buy") {
    if (owns(product.id)) {
      const href = product.kind === "course" ? `/library/courses/${product.id}` : `/library#product-${product.id}`;
      return el("a", { class: `${cls} owned`, href, "data-testid": `${testid}-owned` }, t.owned);
    }
    const waiting = pendingFor(product.id);
    if (waiting) {
      return el(
        "button",
        { type: "button", class: `${cls} pay`, "data-testid": `${testid}-pay`, "data-until": waiting.reserved_until, onclick: () => toCheckout(waiting.order_id) },
        holdLabel(waiting.reserved_until),
      );
    }
    return el("button", { type: "button", class: cls, "data-testid": testid, onclick: onBuy }, t.buy);
  }

  const holdLabel = (until) => `${t.pay} ${clock(new Date(until).getTime() - Date.now())}`;

  // every second: the hold time left on each "去支付"; a hold that ran out brings the buy button back
  function tickHolds() {
    let ran = false;
    for (const node of root.querySelectorAll("[data-until]")) {
      const left = new Date(node.dataset.until).getTime() - Date.now();
      node.textContent = holdLabel(node.dataset.until);
      if (left <= 0) ran = true;
    }
    if (ran) reloadSoon();
  }

  // the product sheet's coupon picker: the viewer's coupons for this product, the best chosen by default,
  // the ones that do not apply shown with the reason
  async function couponPicker(product) {
    if (!signedIn || !mineNow().coupons.length || owns(product.id) || pendingFor(product.id)) return null;
    const quote = await api("POST", "/api/v1/coupons/quote", { items: [{ product_id: product.id, quantity: 1 }], room_id: Number(roomId) });
    if (!quote.choices.length) return null;
    const select = el("select", { name: "coupon", "data-testid": "sheet-coupon" });
    for (const choice of quote.choices) {
      const label = choice.eligible ? `${choice.coupon.code} −${money(choice.discount, quote.currency)}` : `${choice.coupon.code} · ${choice.reason}`;
      const option = el("option", { value: choice.coupon.code, ...(choice.eligible ? {} : { disabled: "" }), ...(choice.best ? { selected: "" } : {}) }, label);
      option.dataset.reason = choice.reason_code || "";
      select.append(option);
    }
    select.append(el("option", { value: "", ...(quote.best_code ? {} : { selected: "" }) }, t.no_coupon));
    const node = el("label", { class: "sheet-coupon" }, el("span", {}, t.coupon_applied), select);
    return { node, code: () => select.value };
  }

  function price(product) {
    return el(
      "span",
      { class: "price" },
      el("b", {}, money(product.price, product.currency)),
      product.list_price ? el("s", { title: t.list_price }, money(product.list_price, product.currency)) : null,
    );
  }

  // A consultation is bought with a time slot from the host's calendar and, if the buyer likes, a note of
  // what they want to talk about (the host sees it; it is stored encrypted).
  async function consultationPicker(product) {
    const slots = (await api("GET", `/api/v1/products/${product.id}/slots`)).filter((slot) => slot.available);
    if (!slots.length) return { node: el("p", { class: "muted", "data-testid": "no-slots" }, t.no_slots), choice: null };
    const when = (iso) => new Date(iso).toLocaleString(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
    const options = slots.map((slot, i) =>
      el(
        "label",
        { class: "slot" },
        el("input", { type: "radio", name: `slot-${product.id}`, value: slot.id, "data-testid": "slot-option", ...(i === 0 ? { checked: "" } : {}) }),
        ` ${when(slot.starts_at)} · ${slot.minutes} ${t.minutes}`,
      ),
    );
    const note = el("textarea", { name: "note", maxlength: "1000", rows: "2", placeholder: t.note_hint, "data-testid": "consultation-note" });
    const node = el("fieldset", { class: "slots", "data-testid": "slot-picker" }, el("legend", {}, t.choose_slot), ...options, el("label", {}, t.note, note));
    const choice = () => {
      const picked = node.querySelector("input[type=radio]:checked");
      return { slot_id: Number(picked.value), ...(note.value.trim() ? { note: note.value.trim() } : {}) };
    };
    return { node, choice };
  }

  async function productSheet({ product, pitch, badge }) {
    const consultation = product.kind === "consultation" ? await consultationPicker(product).catch(() => null) : null;
    const coupon = await couponPicker(product).catch(() => null);
    const code = () => (coupon ? coupon.code() : undefined);
    const buyNow = () => (consultation ? consultation.choice && buy(product, consultation.choice(), code()) : buy(product, {}, code()));
    const description = el("div", { class: "description" });
    description.innerHTML = product.description_html; // rendered safely on the server (html disabled)
    openSheet(
      el(
        "div",
        { class: "product-sheet", "data-testid": "product-sheet" },
        product.cover_url ? el("img", { src: product.cover_url, alt: "", class: "cover" }) : null,
        el("h3", {}, product.title, badge ? el("span", { class: "tag", "data-testid": "product-badge" }, badge) : null),
        price(product),
        pitch ? el("p", { class: "pitch", "data-testid": "product-pitch" }, pitch) : null,
        description,
        consultation ? consultation.node : null,
        coupon ? coupon.node : null,
        consultation && !consultation.choice
          ? el("button", { type: "button", class: "button", "data-testid": "buy-now", disabled: "" }, t.buy)
          : buyAction(product, buyNow, "button", "buy-now"),
      ),
    );
  }

  function shelfSheet() {
    const items = state.shelf.map((entry) =>
      el(
        "li",
        { class: entry.pinned ? "pinned" : "", "data-testid": "shelf-item", "data-product-id": entry.product.id },
        el("button", { type: "button", class: "link", onclick: () => productSheet(entry) }, entry.product.title),
        price(entry.product),
      ),
    );
    openSheet(items.length ? el("ul", { class: "shelf-list" }, ...items) : el("p", { class: "muted" }, t.empty), "shelf");
  }

  function openSheet(content, kind = "product") {
    $("shop-sheet-content").replaceChildren(content);
    $("shop-sheet").hidden = false;
    $("shop-sheet").dataset.kind = kind;
  }

  // an open shelf list follows the shelf as it changes; the bag in the bar shows how many items are on it
  function refreshShelfSheet() {
    const count = root.querySelector("[data-shelf-count]");
    if (count) {
      count.textContent = String(state.shelf.length);
      count.hidden = state.shelf.length === 0;
    }
    if (!$("shop-sheet").hidden && $("shop-sheet").dataset.kind === "shelf") shelfSheet();
  }

  function renderPin(entry) {
    const card = $("pinned-card");
    clearInterval(state.pinTimer);
    if (!entry) {
      card.hidden = true;
      return;
    }
    // until this viewer's video reaches the new pin, the product pinned at their moment stays on screen
    const show = () => {
      const product = entry.product;
      fill(
        card,
        product.cover_url ? el("img", { class: "thumb", src: product.cover_url, alt: "" }) : null,
        el("span", { class: "tag" }, entry.badge || t.now_explaining),
        el("button", { type: "button", class: "link title", "data-testid": "pinned-title", onclick: () => productSheet(entry) }, product.title),
        price(product),
        buyAction(product, () => buy(product)),
      );
      card.dataset.productId = product.id;
      card.hidden = false;
    };
    const at = entry.program_time ? new Date(entry.program_time) : null;
    const since = Date.now();
    if (pinReached(at, since)) {
      show();
      return;
    }
    state.pinTimer = setInterval(() => {
      if (!pinReached(at, since)) return;
      clearInterval(state.pinTimer);
      show();
    }, PIN_POLL_MS);
  }

  // ---- flash sale ---------------------------------------------------------------------------------------
  function renderSale() {
    const sale = state.sale;
    const banner = $("flash-banner");
    if (!sale) {
      banner.hidden = true;
      return;
    }
    const now = Date.now();
    const starts = new Date(sale.starts_at).getTime();
    const ends = new Date(sale.ends_at).getTime();
    const running = now >= starts && now < ends;
    const countdown = now < starts ? `${t.starts_in} ${clock(starts - now)}` : running ? `${t.ends_in} ${clock(ends - now)}` : t.ended;
    const soldOut = sale.stock_left <= 0;
    // the banner is drawn again every second: its buttons are kept, so a tap that spans a redraw still lands
    const button = (state.grabButton ||= el("button", { type: "button", class: "button grab", "data-testid": "flash-grab", onclick: grab }));
    button.disabled = !(running && !soldOut && !sale.result);
    button.textContent = sale.result ? t[sale.result] : soldOut ? t.sold_out : t.grab;
    fill(
      banner,
      el("span", { class: "tag" }, t.flash),
      el("span", { class: "title" }, sale.product_title),
      el("b", { class: "price" }, money(sale.price, sale.currency)),
      el("s", {}, money(sale.list_price, sale.currency)),
      el("span", { class: "stock", "data-testid": "flash-stock" }, `${t.left} ${Math.max(0, sale.stock_left)}`),
      el("span", { class: "countdown", "data-testid": "flash-countdown" }, countdown),
      button,
      sale.order ? flashPay(sale.order) : null,
    );
    banner.hidden = now >= ends && !sale.order;
  }

  // a won flash order waiting for payment: "去支付" with the hold time left, to our checkout page
  function flashPay(order) {
    const until = order.reserved_until;
    if (!state.payButton || state.payButton.dataset.orderId !== String(order.id)) {
      const attrs = { type: "button", class: "button small", "data-testid": "flash-pay", "data-order-id": order.id, onclick: () => toCheckout(order.id) };
      state.payButton = el("button", until ? { ...attrs, "data-until": until } : attrs, until ? holdLabel(until) : t.pay);
    }
    return state.payButton;
  }

  // the same sale told again (a late joiner's replay, a snapshot read before this viewer's grab answered):
  // keep what this viewer got in it (rules in _shop_state.js)
  const sameSale = (sale) => sameSaleAs(state.sale, sale);

  // after a reload the snapshot says what this viewer got in the running sale: a won order still to pay,
  // or the product already bought
  const mySale = () => applyMine(state.sale, mineNow(), Date.now());

  async function grab() {
    if (needSignIn() || !state.sale) return;
    const sale = state.sale;
    sale.key ||= key();
    try {
      const answer = await api("POST", `/api/v1/flash-sales/${sale.id}/attempts`, { quantity: 1, idempotency_key: sale.key });
      sale.result = answer.outcome;
      if (answer.order) {
        sale.order = answer.order;
        heldHere(answer.order, sale.product_id);
      }
      renderSale();
      if (answer.outcome === "won") toast(t.won);
    } catch (err) {
      toast(err.message || t.error);
    }
  }

  // ---- coupon drops and draws -----------------------------------------------------------------------------
  function renderDrop() {
    const drop = state.drop;
    const card = $("drop-card");
    if (!drop || Date.now() >= new Date(drop.closes_at).getTime()) {
      card.hidden = true;
      return;
    }
    const left = Math.max(0, drop.quantity - drop.claimed);
    const label = drop.mine ? t.claimed : left === 0 ? t.gone : t.claim;
    const button = card.querySelector("[data-testid=coupon-claim]");
    if (!card.hidden && card.dataset.drop === String(drop.id) && button) {
      // the same drop: its parts are updated in place, never rebuilt, so a tap that lands while a snapshot,
      // a replay or the once-a-second countdown redraws the card is never lost with an old button
      card.querySelector(".countdown").textContent = clock(new Date(drop.closes_at).getTime() - Date.now());
      card.querySelector("[data-testid=coupon-left]").textContent = `${left}`;
      if (button.textContent !== label) button.textContent = label;
      button.disabled = drop.mine || left === 0;
      return;
    }
    card.dataset.drop = String(drop.id);
    const coupon = drop.coupon;
    const off = coupon.kind === "percent" ? `${coupon.value}% ${t.percent_off}` : `${money(coupon.value, coupon.currency)} ${t.off}`;
    const claim = el(
      "button",
      { type: "button", class: "button small", "data-testid": "coupon-claim", disabled: drop.mine || left === 0 ? "" : null },
      label,
    );
    claim.addEventListener("click", () => claimDrop(drop.id, coupon.code));
    fill(
      card,
      el("span", { class: "tag" }, t.coupon),
      el("b", {}, off),
      el("span", { class: "countdown" }, clock(new Date(drop.closes_at).getTime() - Date.now())),
      el("span", { class: "muted", "data-testid": "coupon-left" }, `${left}`),
      claim,
    );
    card.hidden = false;
  }

  /** @param {number} dropId @param {string} code */
  async function claimDrop(dropId, code) {
    if (needSignIn()) return;
    try {
      const got = await api("POST", `/api/v1/coupon-drops/${dropId}/claim`);
      if (state.drop && state.drop.id === dropId) state.drop.mine = true; // later snapshots keep it (sameDrop)
      state.mine = { ...mineNow(), coupons: [got, ...mineNow().coupons] }; // the next buy may use it
      toast(`${t.claimed}: ${code}`);
    } catch (err) {
      toast(err.message || t.error);
    }
    renderDrop();
  }

  // the same drop told again (a late joiner's replay, a snapshot that lags): keep what this viewer already got
  // and the highest count of claims seen, so a claim that just went through never shows "领取" again
  const sameDrop = (drop) => sameDropAs(state.drop, drop);

  function renderDraw() {
    const draw = state.draw;
    const card = $("draw-card");
    if (!draw) {
      card.hidden = true;
      return;
    }
    const parts = [el("span", { class: "tag" }, t.draw), el("b", {}, draw.title)];
    if (draw.state === "drawn") {
      parts.push(el("span", { "data-testid": "draw-winners" }, `${t.winners}: ${draw.winner_names || draw.winner_ids.join(", ")}`));
    } else {
      const input = draw.condition === "keyword" ? el("input", { placeholder: t.keyword, maxlength: "40", "data-testid": "draw-keyword" }) : null;
      const enter = el("button", { type: "button", class: "button small", "data-testid": "draw-enter", disabled: draw.entered ? "" : null }, draw.entered ? t.entered : t.enter);
      enter.addEventListener("click", async () => {
        if (needSignIn()) return;
        try {
          await api("POST", `/api/v1/draws/${draw.id}/entries`, { keyword: input ? input.value : null });
          draw.entered = true;
        } catch (err) {
          toast(err.message || t.error);
        }
        renderDraw();
      });
      parts.push(input, enter, el("small", { class: "muted seed", title: t.seed_hash }, `#${draw.seed_hash.slice(0, 12)}`));
    }
    card.replaceChildren(...parts.filter(Boolean));
    card.hidden = false;
  }

  // ---- data ------------------------------------------------------------------------------------------------
  async function load() {
    apply(await api("GET", `/api/v1/rooms/${roomId}/commerce`));
  }

  function apply(snap) {
    state.shelf = snap.shelf;
    state.sale = snap.sale && sameSale(snap.sale);
    state.drop = snap.drop && sameDrop(snap.drop);
    state.draw = snap.draw;
    state.variants = snap.variants || {};
    state.mine = withHeldHere(snap.mine || null);
    mySale();
    refreshShelfSheet();
    const pinned = state.shelf.find((entry) => entry.pinned);
    renderPin(pinned ? { ...pinned, program_time: pinned.pin_program_time } : null);
    renderSale();
    renderDrop();
    renderDraw();
  }

  function onEvent({ detail }) {
    const { name, data } = detail || {};
    if (!name || !data || String(data.room_id) !== String(roomId)) return;
    if (name === "shelf.updated") {
      if (personal()) reloadSoon();
      else state.shelf = data.items;
      refreshShelfSheet();
    } else if (name === "shelf.pinned") {
      renderPin({ ...mine(data.product), program_time: data.program_time });
      if (personal() && !state.shelf.some((entry) => entry.product.id === data.product.id)) reloadSoon();
    } else if (name === "shelf.unpinned") renderPin(null);
    else if (name === "flash.scheduled") {
      state.sale = sameSale(data.sale);
      mySale();
    }
    else if (name === "flash.stock" && state.sale && state.sale.id === data.sale_id) state.sale.stock_left = data.stock_left;
    else if (name === "flash.sold_out" && state.sale && state.sale.id === data.sale_id) state.sale.stock_left = 0;
    else if (name === "flash.ended" && state.sale && state.sale.id === data.sale_id) state.sale.ends_at = new Date().toISOString();
    else if (name === "coupon.drop_started") {
      state.drop = sameDrop(data.drop);
      if (personal()) reloadSoon();
    }
    else if (name === "coupon.left" && state.drop && state.drop.id === data.drop_id) state.drop.claimed = state.drop.quantity - data.left;
    else if (name === "draw.opened" || name === "draw.drawn") state.draw = data.draw;
    renderSale();
    renderDrop();
    renderDraw();
  }

  // back from the hosted checkout: wait for the webhook to mark the order paid, then point to the library
  async function followReturn() {
    const orderId = new URLSearchParams(window.location.search).get("order");
    if (!orderId || !signedIn) return;
    toast(t.waiting_payment);
    for (let i = 0; i < 60; i += 1) {
      try {
        const order = await api("GET", `/api/v1/orders/${orderId}`);
        if (order.state === "paid" || order.state === "fulfilled") {
          toast(t.paid, { href: "/library", text: t.library });
          if (state.sale && state.sale.order && state.sale.order.id === order.id) state.sale.order = null;
          await load().catch(() => {}); // what they own now, and no "去支付" any more
          return;
        }
        if (order.state !== "pending") return;
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  $("shelf-button").addEventListener("click", shelfSheet);
  $("shop-sheet").addEventListener("click", (event) => {
    if (event.target === $("shop-sheet") || event.target.closest("[data-close]")) $("shop-sheet").hidden = true;
  });
  document.addEventListener("knowcast:event", onEvent);
  let ticks = 0;
  setInterval(async () => {
    ticks += 1;
    const sale = state.sale;
    const running = sale && Date.now() >= new Date(sale.starts_at).getTime() && Date.now() < new Date(sale.ends_at).getTime();
    if (running && ticks % 3 === 0) {
      try {
        // a slow poll keeps "N left" right even when the live connection is down
        const fresh = await api("GET", `/api/v1/flash-sales/${sale.id}`);
        sale.stock_left = fresh.stock_left;
      } catch {
        // keep the last known value
      }
    }
    renderSale();
    renderDrop();
    tickHolds();
  }, 1000);
  // the snapshot rides the live socket's fresh welcome (docs/protocol.md); a welcome without it (a room only
  // the route answers) or no welcome in time (the socket is down) and the page asks the route itself
  let asked = false;
  const ask = () => {
    if (!asked) load().catch(() => {});
    asked = true;
  };
  onLive("snapshot", (message) => {
    asked = true;
    if (message.commerce) apply(message.commerce);
    else load().catch(() => {});
  });
  onLive("status", (status) => {
    if (!status.connected) ask();
  });
  setTimeout(ask, WELCOME_WAIT_MS);
  followReturn();
}
