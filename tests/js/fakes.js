// The few browser objects the modules under test touch, for node --test: a document whose <html> has
// `lang` and a dataset, and a WebSocket the test drives by hand. Real DOM libraries (jsdom) would be a large
// dependency for what the pure modules need; the pages themselves are tested in Chromium (tests/browser).

export function fakeDocument() {
  const listeners = new Map();
  return {
    documentElement: { lang: "zh-CN", dataset: {} },
    visibilityState: "visible",
    addEventListener(type, fn) {
      listeners.set(type, [...(listeners.get(type) || []), fn]);
    },
    dispatchEvent(event) {
      for (const fn of listeners.get(event.type) || []) fn(event);
      return true;
    },
  };
}

/** A WebSocket the test opens, feeds frames to and closes; every socket made is kept in `FakeSocket.made`. */
export class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  /** @type {FakeSocket[]} */
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    this.closedWith = null;
    this.listeners = new Map();
    FakeSocket.made.push(this);
  }

  addEventListener(type, fn) {
    this.listeners.set(type, [...(this.listeners.get(type) || []), fn]);
  }

  fire(type, event = {}) {
    for (const fn of this.listeners.get(type) || []) fn(event);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  // the server's side
  open() {
    this.readyState = FakeSocket.OPEN;
    this.fire("open");
  }

  receive(frame) {
    this.fire("message", { data: JSON.stringify(frame) });
  }

  close(code = 1000, reason = "") {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.closedWith = { code, reason };
    this.fire("close", { code });
  }
}
