// Bundles each page's entry module (src/knowcast/web/static/js/*.js) with its npm dependencies into
// src/knowcast/web/static/dist/, which the wheel ships and git ignores.
//
// Every file written there is named by its content (room-5QX7J2KD.js), so the server can tell browsers to
// keep it for a year (Cache-Control: immutable) and a new build never meets a stale copy. The plain
// stylesheets in static/css/ are copied in under hashed names too. dist/manifest.json maps each logical name
// ("dist/room.js", "css/app.css") to its hashed file and the chunks it imports (the pages' `asset()` helper
// reads it), and every text file gets a gzip and a brotli copy beside it, made once here instead of per
// request.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = "src/knowcast/web/static";
const src = `${root}/js`;
const out = `${root}/dist`;
const COMPRESSIBLE = new Set([".js", ".css", ".map", ".svg", ".json"]);

rmSync(out, { recursive: true, force: true }); // stale bundles of older builds would be served forever
mkdirSync(out, { recursive: true });
const entries = readdirSync(src).filter((f) => f.endsWith(".js") && !f.startsWith("_")).map((f) => `${src}/${f}`);
const result = await build({
  entryPoints: entries,
  outdir: out,
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  sourcemap: true,
  metafile: true,
  target: ["es2020", "safari14"],
  logLevel: "info",
});

const manifest = {};
const dist = (path) => `dist/${relative(out, path)}`;
for (const [path, output] of Object.entries(result.metafile.outputs)) {
  if (!output.entryPoint) continue;
  const name = basename(output.entryPoint, ".js");
  const imports = output.imports.filter((i) => i.kind === "import-statement").map((i) => dist(i.path));
  manifest[`dist/${name}.js`] = { file: dist(path), imports };
  if (output.cssBundle) manifest[`dist/${name}.css`] = { file: dist(output.cssBundle), imports: [] };
}
for (const file of readdirSync(`${root}/css`).filter((f) => f.endsWith(".css"))) {
  const body = readFileSync(`${root}/css/${file}`);
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 10);
  const hashed = `${basename(file, ".css")}-${hash}.css`;
  writeFileSync(`${out}/${hashed}`, body);
  manifest[`css/${file}`] = { file: `dist/${hashed}`, imports: [] };
}
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 1) + "\n");

for (const file of readdirSync(out)) {
  if (!COMPRESSIBLE.has(extname(file)) || file === "manifest.json") continue;
  const body = readFileSync(`${out}/${file}`);
  writeFileSync(`${out}/${file}.gz`, gzipSync(body, { level: 9 }));
  const quality = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length };
  writeFileSync(`${out}/${file}.br`, brotliCompressSync(body, { params: quality }));
}
console.log(`manifest: ${Object.keys(manifest).length} assets, gzip and brotli copies beside them`);
