// Bundles each page's entry module (src/knowcast/web/static/js/*.js) with its npm dependencies into
// src/knowcast/web/static/dist/, which the wheel ships and git ignores.
//
// Every file written there is named by its content (room-5QX7J2KD.js), so the server can tell browsers to
// keep it for a year (Cache-Control: immutable) and a new build never meets a stale copy. The plain
// stylesheets in static/css/ are copied in under hashed names too. dist/manifest.json maps each logical name
// ("dist/room.js", "css/app.css") to its hashed file and the chunks it imports (the pages' `asset()` helper
// reads it), and every text file gets a gzip and a brotli copy beside it, made once here instead of per
// request.
//
// Beside the bundles it makes, from npm packages and our own SVG: the icon sprite (the lucide-static icons
// listed in static/icons.txt → "dist/icons.svg"), and the favicon, app icons and default share picture
// (static/img/logo.svg rendered to PNG by resvg → "dist/img/icon-192.png" …), hashed and listed the same way.
// axe-core (a devDependency) is read from node_modules by the browser tests, never shipped.
import { Resvg } from "@resvg/resvg-js";
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = "src/knowcast/web/static";
const src = `${root}/js`;
const out = `${root}/dist`;
const COMPRESSIBLE = new Set([".js", ".css", ".map", ".svg", ".json"]);

const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true }); // stale bundles of older builds would be served forever
mkdirSync(out, { recursive: true });
// room.js is not built alone: the live room loads it inside its one bundle (room_page, below)
const entries = readdirSync(src)
  .filter((f) => f.endsWith(".js") && !f.startsWith("_") && f !== "room.js")
  .map((f) => `${src}/${f}`);
const options = {
  outdir: out,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  metafile: true,
  target: ["es2020", "safari14"],
  logLevel: "info",
};
const result = await build({ ...options, entryPoints: entries, chunkNames: "chunk-[hash]", splitting: true });
// The live room is the page a crowd opens at once (a reminder goes out, thousands arrive in the same minute),
// so it is one file: every page's code and the room's, no chunks to ask for one by one — each request a
// browser makes is work for the server times the crowd. The one chunk of its own is hls.js, imported only by a
// page that plays HLS through it (static/js/_player.js). The other pages share chunks as above.
const roomPage = await build({
  ...options,
  entryPoints: { "room_page": `${src}/_room_page.js` },
  chunkNames: "chunk-[hash]",
  splitting: true,
});

const manifest = {};
const dist = (path) => `dist/${relative(out, path)}`;
for (const [path, output] of Object.entries(roomPage.metafile.outputs)) {
  // hls.js, imported dynamically, is an entry point of esbuild's too: only ours is the page's
  if (output.entryPoint === `${src}/_room_page.js`) manifest["dist/room_page.js"] = { file: dist(path), imports: [] };
}
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
// the room page's one stylesheet: every page's, then the room's (the order two <link>s would cascade in)
emit("dist/room_page.css", ["app.css", "room.css"].map((f) => readFileSync(`${root}/css/${f}`, "utf8")).join("\n"));
// a file made here (not by esbuild): written under a content-hashed flat name, listed under its logical name
function emit(logical, body) {
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 10);
  const ext = extname(logical);
  const hashed = `${basename(logical, ext)}-${hash}${ext}`;
  writeFileSync(`${out}/${hashed}`, body);
  manifest[logical] = { file: `dist/${hashed}`, imports: [] };
}

function iconSprite() {
  const names = readFileSync(`${root}/icons.txt`, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const symbols = names.map((name) => {
    const svg = readFileSync(require.resolve(`lucide-static/icons/${name}.svg`), "utf8");
    const body = svg.slice(svg.indexOf(">", svg.indexOf("<svg")) + 1, svg.lastIndexOf("</svg>")).trim();
    // each symbol carries lucide's stroke attributes, so a <use> draws in the page's currentColor
    const attrs = 'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"';
    return `<symbol id="${name}" viewBox="0 0 24 24" ${attrs}>${body}</symbol>`;
  });
  emit("dist/icons.svg", `<svg xmlns="http://www.w3.org/2000/svg"><!-- lucide-static, ISC licence -->\n${symbols.join("\n")}\n</svg>\n`);
}

function appIcons() {
  const logo = readFileSync(`${root}/img/logo.svg`, "utf8");
  const mark = logo.replace(/<svg[^>]*>/, "").replace("</svg>", "");
  emit("img/logo.svg", logo);
  const png = (svg, width) => new Resvg(svg, { fitTo: { mode: "width", value: width } }).render().asPng();
  for (const size of [32, 192, 512]) emit(`dist/img/icon-${size}.png`, png(logo, size));
  emit("dist/img/apple-touch-icon.png", png(logo, 180));
  // maskable: a launcher may crop to a circle, so the mark sits inside the 80 % safe zone on the brand colour
  const maskable = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-64 -64 640 640"><rect x="-64" y="-64" width="640" height="640" fill="#ff2d55"/>${mark}</svg>`;
  emit("dist/img/icon-maskable-512.png", png(maskable, 512));
  // the share picture (og:image) of a room with no cover: the mark on a dark stage, 1200×630
  const og = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 630"><rect width="1200" height="630" fill="#141418"/><g transform="translate(440 155) scale(.625)">${mark}</g></svg>`;
  emit("dist/img/og-default.png", png(og, 1200));
}

iconSprite();
appIcons();
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 1) + "\n");

for (const file of readdirSync(out)) {
  if (!COMPRESSIBLE.has(extname(file)) || file === "manifest.json") continue;
  const body = readFileSync(`${out}/${file}`);
  writeFileSync(`${out}/${file}.gz`, gzipSync(body, { level: 9 }));
  const quality = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length };
  writeFileSync(`${out}/${file}.br`, brotliCompressSync(body, { params: quality }));
}
console.log(`manifest: ${Object.keys(manifest).length} assets, gzip and brotli copies beside them`);
