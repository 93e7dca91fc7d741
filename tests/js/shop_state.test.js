// The room shop's state rules (_shop_state.js): held orders, and sales and drops told again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { NO_MINE, applyMine, held, pendingFor, sameDrop, sameSale, withHeldHere } from "../../src/knowcast/web/static/js/_shop_state.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const later = (s) => new Date(NOW + s * 1000).toISOString();
const order = (fields) => ({ order_id: 1, product_id: 10, reserved_until: later(300), flash_sale_id: null, ...fields });
const mine = (fields) => ({ ...NO_MINE, ...fields });

describe("held orders", () => {
  test("an order holds until its reserved_until", () => {
    assert.equal(held(order({}), NOW), true);
    assert.equal(held(order({ reserved_until: later(0) }), NOW), false);
    assert.equal(held(order({ reserved_until: later(-1) }), NOW), false);
    assert.equal(held(null, NOW), false);
  });
  test("pendingFor finds the product's held order, in the sale when one is named", () => {
    const flash = order({ order_id: 2, flash_sale_id: 7 });
    const m = mine({ pending: [order({ reserved_until: later(-5) }), flash] });
    assert.equal(pendingFor(m, 10, null, NOW), flash);
    assert.equal(pendingFor(m, 10, 7, NOW), flash);
    assert.equal(pendingFor(m, 10, 8, NOW), undefined);
    assert.equal(pendingFor(m, 11, null, NOW), undefined);
  });
  test("an order won here stays while it holds, though a snapshot read before the win lacks it", () => {
    const won = order({ order_id: 5 });
    const snapshot = mine({ pending: [] });
    assert.deepEqual(withHeldHere(snapshot, [won], NOW).pending, [won]);
    assert.equal(withHeldHere(snapshot, [won], NOW + 301000), snapshot, "a hold that ran out is not kept");
  });
  test("the snapshot wins when it lists the order or the product is owned", () => {
    const won = order({ order_id: 5 });
    const listed = mine({ pending: [order({ order_id: 5 })] });
    assert.equal(withHeldHere(listed, [won], NOW), listed);
    const owned = mine({ owned: [10] });
    assert.equal(withHeldHere(owned, [won], NOW), owned);
    assert.equal(withHeldHere(null, [won], NOW), null);
  });
});

describe("a sale told again", () => {
  test("the same sale keeps this viewer's result, order and key", () => {
    const before = { id: 3, product_id: 10, stock_left: 5, result: "won", order: { id: 9 }, key: "k1" };
    const again = sameSale(before, { id: 3, product_id: 10, stock_left: 2 });
    assert.deepEqual(again, { id: 3, product_id: 10, stock_left: 2, result: "won", order: { id: 9 }, key: "k1" });
  });
  test("another sale starts clean", () => {
    const before = { id: 3, product_id: 10, result: "won", order: { id: 9 }, key: "k1" };
    const next = { id: 4, product_id: 10 };
    assert.equal(sameSale(before, next), next);
    assert.equal(sameSale(null, next), next);
  });
  test("applyMine marks a won order still to pay, in place", () => {
    const sale = { id: 7, product_id: 10, result: null, order: null };
    applyMine(sale, mine({ pending: [order({ order_id: 2, flash_sale_id: 7 })] }), NOW);
    assert.deepEqual(sale.order, { id: 2, reserved_until: later(300) });
    assert.equal(sale.result, "won");
  });
  test("applyMine: an owned product is owned; an order that no longer holds goes", () => {
    const sale = { id: 7, product_id: 10, result: "won", order: { id: 2 } };
    applyMine(sale, mine({ owned: [10] }), NOW);
    assert.equal(sale.result, "owned");
    assert.equal(sale.order, null);
    const lapsed = { id: 7, product_id: 10, result: "won", order: { id: 2 } };
    applyMine(lapsed, mine({ pending: [order({ order_id: 2, flash_sale_id: 7, reserved_until: later(-1) })] }), NOW);
    assert.equal(lapsed.order, null);
    assert.equal(lapsed.result, "won", "the result stays: the viewer did win, the hold ran out");
  });
  test("applyMine with no sale does nothing", () => {
    assert.doesNotThrow(() => applyMine(null, NO_MINE, NOW));
  });
});

describe("a coupon drop told again", () => {
  test("keeps 'claimed by me' and the highest claim count", () => {
    const before = { id: 1, mine: true, claimed: 8, quantity: 10 };
    assert.deepEqual(sameDrop(before, { id: 1, mine: false, claimed: 6, quantity: 10 }), { id: 1, mine: true, claimed: 8, quantity: 10 });
    assert.deepEqual(sameDrop(before, { id: 1, claimed: 9, quantity: 10 }), { id: 1, mine: true, claimed: 9, quantity: 10 });
  });
  test("another drop starts clean", () => {
    const next = { id: 2, mine: false, claimed: 0, quantity: 5 };
    assert.equal(sameDrop({ id: 1, mine: true, claimed: 3, quantity: 5 }, next), next);
    assert.equal(sameDrop(null, next), next);
  });
});
