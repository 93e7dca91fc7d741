// The room shop's state rules (_shop.js), kept apart from the DOM so tests/js can drive them: which of the
// viewer's orders still hold stock for them, and how a sale or coupon drop told again (a late joiner's replay,
// a snapshot read before this viewer's grab or claim answered) keeps what this viewer already got in it.

/**
 * @typedef {{ order_id: number, product_id: number, reserved_until: string, flash_sale_id?: number | null,
 *   total?: number, currency?: string }} PendingOrder
 * @typedef {{ pending: PendingOrder[], owned: number[], coupons: object[] }} Mine
 * @typedef {{ id: number, product_id: number, result?: string | null, key?: string,
 *   order?: { id: number, reserved_until?: string } | null } & Record<string, any>} Sale
 * @typedef {{ id: number, mine?: boolean, claimed: number, quantity: number } & Record<string, any>} Drop
 */

/** @type {Mine} */
export const NO_MINE = Object.freeze({ pending: [], owned: [], coupons: [] });

/**
 * Whether a pending order still holds its stock at `now` (ms).
 * @param {PendingOrder | null | undefined} entry
 * @param {number} now
 */
export function held(entry, now) {
  return Boolean(entry) && new Date(entry.reserved_until).getTime() > now;
}

/**
 * The viewer's held pending order for a product (in the given flash sale, when `saleId` is not null).
 * @param {Mine} mine
 * @param {number} productId
 * @param {number | null} saleId
 * @param {number} now
 * @returns {PendingOrder | undefined}
 */
export function pendingFor(mine, productId, saleId, now) {
  return mine.pending.find(
    (p) => p.product_id === productId && (saleId === null || p.flash_sale_id === saleId) && held(p, now),
  );
}

/**
 * `mine` with the orders this page won itself (`wonHere`) added back while they hold, unless the snapshot
 * already lists them or says the product is owned: a snapshot read before the win never takes "去支付" away.
 * @param {Mine | null} mine
 * @param {PendingOrder[]} wonHere
 * @param {number} now
 * @returns {Mine | null}
 */
export function withHeldHere(mine, wonHere, now) {
  if (!mine) return mine;
  const missing = wonHere.filter(
    (w) => held(w, now) && !mine.owned.includes(w.product_id) && !mine.pending.some((p) => p.order_id === w.order_id),
  );
  return missing.length ? { ...mine, pending: [...mine.pending, ...missing] } : mine;
}

/**
 * The same sale told again keeps this viewer's result, won order and idempotency key; another sale is new.
 * @param {Sale | null} before
 * @param {Sale} sale
 * @returns {Sale}
 */
export function sameSale(before, sale) {
  return before && before.id === sale.id ? { ...sale, result: before.result, order: before.order, key: before.key } : sale;
}

/**
 * The same drop told again keeps "claimed by me" and the highest count of claims seen, so a claim that just
 * went through never shows "领取" again.
 * @param {Drop | null} before
 * @param {Drop} drop
 * @returns {Drop}
 */
export function sameDrop(before, drop) {
  if (!before || before.id !== drop.id) return drop;
  return { ...drop, mine: Boolean(drop.mine || before.mine), claimed: Math.max(drop.claimed, before.claimed) };
}

/**
 * What the viewer's own part says about the running sale, written onto it (in place: a grab in flight holds
 * the same object): a won order still to pay, the product already bought, or an order that no longer holds.
 * @param {Sale | null} sale
 * @param {Mine} mine
 * @param {number} now
 */
export function applyMine(sale, mine, now) {
  if (!sale) return;
  const waiting = pendingFor(mine, sale.product_id, sale.id, now);
  if (waiting) {
    sale.result = "won";
    sale.order = { id: waiting.order_id, reserved_until: waiting.reserved_until };
  } else if (mine.owned.includes(sale.product_id)) {
    sale.result = "owned";
    sale.order = null;
  } else if (sale.order && !pendingFor(mine, sale.product_id, null, now)) {
    sale.order = null;
  }
}
