// Formatting in the browser: money (the twin of knowcast.money), clocks, ICU plurals and dates in the shop's
// time zone. Run by `make jscheck` (node --test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, describe, test } from "node:test";

import { clock, money } from "../../src/knowcast/web/static/js/_format.js";
import { formatMessage, systemText } from "../../src/knowcast/web/static/js/_messages.js";
import { dateTimeFormat } from "../../src/knowcast/web/static/js/_time.js";
import { fakeDocument } from "./fakes.js";

// the table knowcast.money (Python) is tested against too (tests/test_money.py): the two write money alike
const CASES = JSON.parse(readFileSync(new URL("../money_cases.json", import.meta.url), "utf8"));

describe("money", () => {
  test("as knowcast.money writes it (tests/money_cases.json)", () => {
    for (const [amount, currency, shown] of CASES) assert.equal(money(amount, currency), shown, `${amount} ${currency}`);
  });
  test("minor units with the currency's symbol", () => {
    assert.equal(money(1990), "¥19.90");
    assert.equal(money(1990, "CNY"), "¥19.90");
    assert.equal(money(5, "USD"), "$0.05");
    assert.equal(money(100, "HKD"), "HK$1.00");
    assert.equal(money(0), "¥0.00");
  });
  test("thousands grouped", () => {
    assert.equal(money(123456789), "¥1,234,567.89");
    assert.equal(money(100000), "¥1,000.00");
  });
  test("zero-decimal currencies have no cents", () => {
    assert.equal(money(500, "JPY"), "¥500");
    assert.equal(money(1234567, "JPY"), "¥1,234,567");
  });
  test("an unknown currency by its code", () => {
    assert.equal(money(100, "SGD"), "SGD 1.00");
  });
  test("negative amounts (refunds) carry the sign in front", () => {
    assert.equal(money(-150), "-¥1.50");
    assert.equal(money(-5), "-¥0.05");
  });
  test("averages that are not whole fen are rounded", () => {
    assert.equal(money(1234.6), "¥12.35");
    assert.equal(money(0.4), "¥0.00");
  });
});

describe("clock", () => {
  test("mm:ss rounded up, never negative", () => {
    assert.equal(clock(300000), "05:00");
    assert.equal(clock(299001), "05:00");
    assert.equal(clock(59000), "00:59");
    assert.equal(clock(1), "00:01");
    assert.equal(clock(0), "00:00");
    assert.equal(clock(-5000), "00:00");
    assert.equal(clock(75 * 60000), "75:00");
  });
});

describe("ICU messages", () => {
  beforeEach(() => {
    globalThis.document = fakeDocument();
  });
  test("plurals read right in English", () => {
    globalThis.document.documentElement.lang = "en";
    const message = "{count, plural, one {# vote} other {# votes}}";
    assert.equal(formatMessage(message, { count: 1 }), "1 vote");
    assert.equal(formatMessage(message, { count: 3 }), "3 votes");
  });
  test("Chinese has one form", () => {
    globalThis.document.documentElement.lang = "zh-CN";
    assert.equal(formatMessage("{count, plural, other {# 票}}", { count: 1 }), "1 票");
  });
  test("a broken catalog string shows as written; a missing one is empty", () => {
    assert.equal(formatMessage("{count, plural, one {# x}", { count: 1 }), "{count, plural, one {# x}");
    assert.equal(formatMessage("", {}), "");
  });
});

describe("system chat lines", () => {
  beforeEach(() => {
    globalThis.document = fakeDocument();
    globalThis.document.documentElement.lang = "en";
  });
  const strings = { "shop.system.order": "{name} bought {title} for {price}", "event.coupon.drop_started": "Coupon!" };
  test("written from the catalog key and params, the price as money", () => {
    const item = { message: "shop.system.order", params: { name: "Li", title: "Course", price: 1990, currency: "CNY" }, text: "李 买了" };
    assert.equal(systemText(item, strings), "Li bought Course for ¥19.90");
  });
  test("without a key this page knows, the stored text, else the event's string, else its name", () => {
    assert.equal(systemText({ message: "shop.system.unknown", params: {}, text: "stored" }, strings), "stored");
    assert.equal(systemText({ event: "coupon.drop_started" }, strings), "Coupon!");
    assert.equal(systemText({ event: "x.y" }, strings), "x.y");
    assert.equal(systemText({}, strings), "");
  });
});

describe("dates in the shop's time zone", () => {
  beforeEach(() => {
    globalThis.document = fakeDocument();
  });
  test("the page's zone, not the reader's", () => {
    globalThis.document.documentElement.lang = "en";
    globalThis.document.documentElement.dataset.timeZone = "Asia/Shanghai";
    const when = new Date("2026-03-01T16:30:00Z");
    assert.equal(dateTimeFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(when), "00:30");
  });
  test("an unknown zone falls back to the reader's clock instead of throwing", () => {
    globalThis.document.documentElement.dataset.timeZone = "Mars/Olympus";
    assert.doesNotThrow(() => dateTimeFormat({ dateStyle: "medium" }).format(new Date()));
  });
});
