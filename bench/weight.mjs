// Initial page weight: the release front end's Wasm, JS and CSS, raw / gzip / brotli.
// Usage: node bench/weight.mjs target/site/pkg > weight.json
import fs from "fs";
import path from "path";
import zlib from "zlib";

const dir = process.argv[2] ?? "target/site/pkg";
const files = fs.readdirSync(dir).filter((f) => /\.(wasm|js|css)$/.test(f));
const rows = files.map((f) => {
  const raw = fs.readFileSync(path.join(dir, f));
  return {
    file: f,
    raw: raw.length,
    gzip: zlib.gzipSync(raw, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
});
const total = (k) => rows.reduce((s, r) => s + r[k], 0);
console.log(JSON.stringify({ files: rows, total: { raw: total("raw"), gzip: total("gzip"), brotli: total("brotli") } }, null, 2));
