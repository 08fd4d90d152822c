// Writes .br and .gz beside each file of the release front end, once at build time:
// the server (tower-http ServeDir, through leptos_axum) then sends the compressed copy
// to browsers that accept it, and spends no CPU compressing at request time.
// Usage: node scripts/precompress.mjs target/site
import fs from "fs";
import path from "path";
import zlib from "zlib";

const root = process.argv[2] ?? "target/site";
const walk = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
let count = 0;
for (const file of walk(root)) {
  if (!/\.(wasm|js|css|svg|html|json|txt)$/.test(file)) continue;
  const raw = fs.readFileSync(file);
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(raw, { level: 9 }));
  fs.writeFileSync(
    `${file}.br`,
    zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
  );
  count++;
}
console.log(`precompressed ${count} files under ${root}`);
