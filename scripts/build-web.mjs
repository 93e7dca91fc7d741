// Bundles each page's entry module (src/knowcast/web/static/js/*.js) with its npm dependencies into
// src/knowcast/web/static/dist/, which the wheel ships and git ignores.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const src = "src/knowcast/web/static/js";
const entries = readdirSync(src).filter((f) => f.endsWith(".js") && !f.startsWith("_")).map((f) => `${src}/${f}`);
await build({
  entryPoints: entries,
  outdir: "src/knowcast/web/static/dist",
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  sourcemap: true,
  target: ["es2020", "safari14"],
  logLevel: "info",
});
