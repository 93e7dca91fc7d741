// The live client's sequence handling (_live.js): snapshot on join, ticks applied in order, duplicates
// dropped, a gap closes the socket and the reconnect resumes from the last applied seq. The WebSocket and
// the few globals are fakes (fakes.js): the server side of this protocol is tested for real in tests/realtime.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { connectLive, onJoining, onLive, reconnects, retryDelay, sequenceStep } from "../../src/knowcast/web/static/js/_live.js";
import { FakeSocket, fakeDocument } from "./fakes.js";

describe("sequenceStep", () => {
  test("before the welcome everything applies", () => {
    assert.equal(sequenceStep(null, 42), "apply");
  });
  test("next applies, old and repeated are duplicates, a jump is a gap", () => {
    assert.equal(sequenceStep(5, 6), "apply");
    assert.equal(sequenceStep(5, 5), "duplicate");
    assert.equal(sequenceStep(5, 2), "duplicate");
    assert.equal(sequenceStep(5, 7), "gap");
  });
});

describe("reconnecting", () => {
  test("a 44xx refusal is final, except the server's timeout (4408)", () => {
    assert.equal(reconnects(4403), false);
    assert.equal(reconnects(4400), false);
    assert.equal(reconnects(4499), false);
    assert.equal(reconnects(4408), true);
    assert.equal(reconnects(4000), true);
    assert.equal(reconnects(1006), true);
  });
  test("the wait doubles per retry, jittered between half and one and a half", () => {
    assert.equal(retryDelay(1, 0.5), 600);
    assert.equal(retryDelay(2, 0.5), 1200);
    assert.equal(retryDelay(6, 0), 9600);
    assert.equal(retryDelay(6, 0.999), 300 * 64 * 1.499);
  });
});

describe("connectLive", () => {
  /** @type {Array<{ name: string, seq: number, replay: boolean }>} */
  let dispatched;
  let ticks;

  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
    FakeSocket.made = [];
    dispatched = [];
    ticks = [];
    const document = fakeDocument();
    document.addEventListener("knowcast:event", (e) => dispatched.push({ name: e.detail.name, seq: e.detail.seq, replay: e.detail.replay }));
    Object.assign(globalThis, {
      document,
      WebSocket: FakeSocket,
      location: { protocol: "https:", host: "example.test" },
      localStorage: { getItem: () => "v1", setItem() {} },
      CustomEvent: class extends Event {
        constructor(type, init) {
          super(type);
          this.detail = init.detail;
        }
      },
      window: {},
    });
    onLive("tick", (m) => ticks.push(m.seq));
  });

  afterEach(() => {
    mock.timers.reset();
  });

  const welcome = (seq, extra = {}) => ({ type: "welcome", you: { user_id: 1 }, seq, resumed: false, snapshot: { events: [] }, ...extra });
  const tick = (seq, name = "chat.message") => ({ seq, events: [{ name, data: { n: seq } }] });

  test("joins, applies the snapshot and ticks in order, drops duplicates", () => {
    const live = connectLive(7);
    const socket = FakeSocket.made[0];
    assert.equal(socket.url, "wss://example.test/api/v1/rooms/7/live");
    socket.open();
    assert.deepEqual(socket.sent[0], { type: "join", v: 1, visitor: "v1" });
    socket.receive(welcome(10, { snapshot: { events: [{ name: "shelf.pinned", data: {}, seq: 9 }] } }));
    assert.deepEqual(dispatched, [{ name: "shelf.pinned", seq: 9, replay: true }]);
    socket.receive(tick(11));
    socket.receive(tick(11));
    socket.receive(tick(10));
    socket.receive(tick(12));
    assert.equal(live.state.seq, 12);
    assert.deepEqual(ticks.slice(-2), [11, 12]);
    assert.deepEqual(dispatched.slice(1).map((d) => d.seq), [11, 12]);
    assert.equal(socket.closedWith, null);
  });

  test("a gap closes the socket; the reconnect resumes from the last applied seq", () => {
    const live = connectLive(7);
    const first = FakeSocket.made[0];
    first.open();
    first.receive(welcome(10));
    first.receive(tick(11));
    first.receive(tick(13));
    assert.deepEqual(first.closedWith, { code: 4000, reason: "gap" });
    assert.equal(live.state.seq, 11, "the frame after the gap is not applied");
    mock.timers.tick(10000);
    const second = FakeSocket.made[1];
    assert.ok(second, "reconnected");
    second.open();
    assert.deepEqual(second.sent[0], { type: "join", v: 1, visitor: "v1", last_seq: 11 });
    second.receive({ type: "welcome", you: { user_id: 1 }, seq: 11, resumed: true });
    second.receive(tick(12));
    second.receive(tick(13));
    assert.equal(live.state.seq, 13);
    assert.deepEqual(dispatched.map((d) => d.seq), [11, 12, 13], "no gap and no duplicate");
  });

  test("a resume the server cannot serve answers with a fresh snapshot, which replaces our seq", () => {
    const live = connectLive(7);
    const first = FakeSocket.made[0];
    first.open();
    first.receive(welcome(10));
    first.close(1006);
    mock.timers.tick(10000);
    const second = FakeSocket.made[1];
    second.open();
    assert.equal(second.sent[0].last_seq, 10);
    second.receive(welcome(50));
    assert.equal(live.state.seq, 50);
    second.receive(tick(51));
    assert.equal(live.state.seq, 51);
  });

  test("frames sent before the welcome wait for it; heartbeats are not queued", () => {
    const live = connectLive(7);
    const socket = FakeSocket.made[0];
    live.send({ type: "heartbeat" });
    live.send({ type: "chat", text: "hi" });
    socket.open();
    assert.equal(socket.sent.length, 1, "only the join before the welcome");
    socket.receive(welcome(1));
    assert.deepEqual(socket.sent.slice(1), [{ type: "chat", text: "hi" }]);
  });

  test("a refusal does not reconnect", () => {
    connectLive(7);
    FakeSocket.made[0].open();
    FakeSocket.made[0].close(4403);
    mock.timers.tick(60000);
    assert.equal(FakeSocket.made.length, 1);
  });

  test("modules add to each join frame (the analytics events waiting for the socket ride it)", () => {
    /** @type {Array<Record<string, unknown>>} */
    let waiting = [{ kind: "view_start", view_id: "a" }];
    onJoining((join) => {
      if (waiting.length) join.events = waiting.splice(0);
    });
    connectLive(7);
    const first = FakeSocket.made[0];
    first.open();
    assert.deepEqual(first.sent[0], { type: "join", v: 1, visitor: "v1", events: [{ kind: "view_start", view_id: "a" }] });
    first.close(1006);
    waiting = [{ kind: "heartbeat", view_id: "a" }];
    mock.timers.tick(10000);
    FakeSocket.made[1].open();
    assert.deepEqual(FakeSocket.made[1].sent[0].events, [{ kind: "heartbeat", view_id: "a" }], "asked again on each join");
    waiting = [];
  });
});
