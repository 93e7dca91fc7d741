// Types the browser modules share that the DOM library does not know: what they hang on `window`, the
// `knowcast:event` CustomEvent every forwarded room event arrives as (_live.js), and the stylesheet imports
// esbuild bundles. Read by `tsc -p jsconfig.json` only; nothing here is shipped.

/** One domain event as the live connection forwards it (docs/protocol.md). */
interface KnowcastEventDetail {
  name: string;
  data: any;
  seq: number | null;
  replay: boolean;
}

interface KnowcastPlayerHandle {
  programDate(): Date | null;
  streaming(): boolean;
}

interface KnowcastGlobal {
  live?: { send(obj: object): void; state: object; roomId: number | string };
  player?: KnowcastPlayerHandle;
}

interface WeixinJSBridgeApi {
  invoke(name: string, params: object, done: (res: { err_msg?: string }) => void): void;
}

interface Window {
  knowcast?: KnowcastGlobal;
  WeixinJSBridge?: WeixinJSBridgeApi;
}

interface DocumentEventMap {
  "knowcast:event": CustomEvent<KnowcastEventDetail>;
}

declare module "*.css";
