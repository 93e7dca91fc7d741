// The host's commerce panels in the console (docs/commerce.md): create products and put them on the shelf,
// pin one, start flash sales, create coupons and drop them, open and draw lucky draws, refund orders.
import { api } from "./_api.js";
import { money } from "./_format.js";

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

// "19.9" → 1990: prices are typed in yuan and sent in fen (integer minor units)
function minor(text) {
  const value = String(text || "").trim();
  if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(value)) return null;
  const [whole, cents = ""] = value.split(".");
  return Number(whole) * 100 + Number(cents.padEnd(2, "0"));
}

export function startConsoleShop(root) {
  const roomId = root.dataset.roomId;
  const t = JSON.parse(root.dataset.strings || "{}");
  const q = (sel) => root.querySelector(sel);
  const status = q("[data-status]");
  let products = [];

  function say(text) {
    status.textContent = text;
  }

  async function act(fn) {
    try {
      await fn();
      say(t.saved);
      await refresh();
    } catch (err) {
      say(`${t.error}: ${err.message}`);
    }
  }

  async function refresh() {
    const [mine, shelf, sales, coupons, draws, orders] = await Promise.all([
      api("GET", "/api/v1/products"),
      api("GET", `/api/v1/rooms/${roomId}/shelf`),
      api("GET", `/api/v1/rooms/${roomId}/flash-sales`),
      api("GET", "/api/v1/coupons"),
      api("GET", `/api/v1/rooms/${roomId}/draws`),
      api("GET", `/api/v1/rooms/${roomId}/orders`),
    ]);
    products = mine;
    renderShelf(shelf);
    renderSales(sales);
    renderCoupons(coupons);
    renderDraws(draws);
    renderOrders(orders);
    for (const select of root.querySelectorAll("select[data-products]")) {
      const chosen = select.value;
      select.replaceChildren(...products.map((p) => el("option", { value: p.id }, `${p.title} · ${money(p.price, p.currency)}`)));
      if (chosen) select.value = chosen;
    }
  }

  function renderShelf(shelf) {
    const onShelf = new Set(shelf.map((e) => e.product.id));
    const rows = shelf.map((entry) =>
      el(
        "li",
        { class: entry.pinned ? "pinned" : "", "data-testid": "console-shelf-item", "data-product-id": entry.product.id },
        el("span", { class: "title" }, entry.product.title, entry.pinned ? ` · ${t.pinned}` : ""),
        el("span", {}, money(entry.product.price, entry.product.currency)),
        el("button", {
          type: "button",
          class: "button small",
          "data-testid": "pin",
          onclick: () => act(() => api("POST", `/api/v1/rooms/${roomId}/pin`, { product_id: entry.pinned ? null : entry.product.id })),
        }, entry.pinned ? t.unpin : t.pin),
        el("button", {
          type: "button",
          class: "button small secondary",
          onclick: () => act(() => api("DELETE", `/api/v1/rooms/${roomId}/shelf/${entry.product.id}`)),
        }, t.remove),
      ),
    );
    const off = products.filter((p) => !onShelf.has(p.id));
    const adders = off.map((p) =>
      el("li", { class: "muted" }, el("span", { class: "title" }, p.title), el("button", {
        type: "button",
        class: "button small secondary",
        onclick: () => act(() => api("POST", `/api/v1/rooms/${roomId}/shelf`, { product_id: p.id })),
      }, t.add)),
    );
    q("[data-shelf]").replaceChildren(...rows, ...adders);
  }

  function renderSales(sales) {
    q("[data-sales]").replaceChildren(
      ...sales.map((s) =>
        el(
          "li",
          { "data-testid": "console-sale", "data-status": s.status },
          `${s.product_title} · ${money(s.price, s.currency)} · ${t.left} ${s.stock_left}/${s.stock_total} · ${t[`sale.${s.status}`] || s.status}`,
          s.status !== "ended"
            ? el("button", { type: "button", class: "button small secondary", onclick: () => act(() => api("POST", `/api/v1/flash-sales/${s.id}/stop`)) }, t.stop)
            : null,
        ),
      ),
    );
  }

  function renderCoupons(coupons) {
    q("[data-coupons]").replaceChildren(
      ...coupons.map((c) =>
        el(
          "li",
          {},
          `${c.code} · ${c.kind === "percent" ? `${c.value}%` : money(c.value, c.currency)} · ${c.used}${c.total_limit ? `/${c.total_limit}` : ""}`,
          el("button", {
            type: "button",
            class: "button small secondary",
            onclick: () => {
              const quantity = Number(window.prompt(t.drop, "10"));
              if (quantity > 0) act(() => api("POST", `/api/v1/rooms/${roomId}/coupon-drops`, { coupon_id: c.id, quantity, claim_seconds: 60 }));
            },
          }, t.drop),
        ),
      ),
    );
  }

  function renderDraws(draws) {
    q("[data-draws]").replaceChildren(
      ...draws.map((d) =>
        el(
          "li",
          {},
          `${d.title} · ${d.entries} · ${t[`draw.${d.state}`] || d.state}${d.state === "drawn" ? ` · ${d.winner_ids.join(", ")}` : ""}`,
          d.state === "open"
            ? el("button", { type: "button", class: "button small", onclick: () => act(() => api("POST", `/api/v1/draws/${d.id}/draw`)) }, t.draw_now)
            : null,
        ),
      ),
    );
  }

  function renderOrders(orders) {
    q("[data-orders]").replaceChildren(
      ...orders.map((o) =>
        el(
          "tr",
          { "data-order-id": o.id, "data-state": o.state },
          el("td", {}, `#${o.id}`),
          el("td", {}, o.buyer || ""),
          el("td", {}, o.items.map((i) => (i.note ? `${i.title} (${t.note}: ${i.note})` : i.title)).join(", ")),
          el("td", {}, money(o.total, o.currency)),
          el("td", {}, (t[`order.${o.state}`] || o.state) + (o.refund_due ? " !" : "")),
          el(
            "td",
            {},
            o.state === "paid" || o.state === "fulfilled"
              ? el("button", { type: "button", class: "button small danger", "data-testid": "refund", onclick: () => act(() => api("POST", `/api/v1/orders/${o.id}/refund`)) }, t.refund)
              : null,
            o.state === "paid"
              ? el("button", { type: "button", class: "button small", onclick: () => act(() => api("POST", `/api/v1/orders/${o.id}/fulfil`)) }, t.fulfil)
              : null,
          ),
        ),
      ),
    );
  }

  const forms = {
    async product(data) {
      const body = { kind: data.kind, title: data.title, price: minor(data.price), description: data.description || "" };
      if (data.list_price) body.list_price = minor(data.list_price);
      if (data.stock) body.stock = Number(data.stock);
      if (body.kind === "ticket" || body.kind === "replay") body.room_id = Number(roomId);
      if (body.kind === "membership") body.membership_days = 30;
      const product = await api("POST", "/api/v1/products", body);
      await api("POST", `/api/v1/rooms/${roomId}/shelf`, { product_id: product.id });
    },
    async flash(data) {
      const startsAt = new Date(Date.now() + Number(data.starts_in || 0) * 1000).toISOString();
      await api("POST", `/api/v1/rooms/${roomId}/flash-sales`, {
        product_id: Number(data.product_id),
        price: minor(data.price),
        stock: Number(data.stock),
        per_user_limit: Number(data.per_user_limit || 1),
        starts_at: startsAt,
        duration_seconds: Number(data.duration || 10) * 60,
      });
    },
    async coupon(data) {
      const percent = data.kind === "percent";
      const coupon = await api("POST", "/api/v1/coupons", {
        code: data.code,
        kind: data.kind,
        value: percent ? Number(data.value) : minor(data.value),
        min_spend: minor(data.min_spend || "0") || 0,
        ends_at: new Date(Date.now() + 7 * 86400000).toISOString(),
        claim_required: Number(data.drop) > 0,
      });
      if (Number(data.drop) > 0) {
        await api("POST", `/api/v1/rooms/${roomId}/coupon-drops`, { coupon_id: coupon.id, quantity: Number(data.drop), audience: data.audience || null });
      }
    },
    async draw(data) {
      await api("POST", `/api/v1/rooms/${roomId}/draws`, {
        title: data.title,
        condition: data.condition,
        keyword: data.keyword || null,
        prize_product_id: Number(data.prize_product_id),
        winners: Number(data.winners || 1),
        duration_seconds: Number(data.duration || 2) * 60,
        audience: data.audience || null,
      });
    },
  };

  // saved segments (用户画像) join "everyone" and "followers" as audiences for drops and draws
  async function loadAudiences() {
    const segments = await api("GET", "/api/v1/analytics/segments").catch(() => []);
    for (const select of root.querySelectorAll("[data-audiences]")) {
      for (const s of segments) select.append(el("option", { value: `segment:${s.id}` }, `${t.segment}: ${s.name} (${s.reachable})`));
    }
  }
  loadAudiences();

  for (const form of root.querySelectorAll("form[data-form]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(form).entries());
      act(() => forms[form.dataset.form](data)).then(() => form.reset());
    });
  }
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (detail && detail.data && String(detail.data.room_id) === String(roomId) && /^(flash|shelf|draw|coupon)\./.test(detail.name)) {
      refresh().catch(() => {});
    }
  });
  refresh().catch((err) => say(`${t.error}: ${err.message}`));
}
