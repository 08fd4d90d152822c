import { expect, type Page } from "@playwright/test";
import { hydrated, registerQuickly, test } from "./helpers";

/** A JPEG drawn by Chromium: `width` × `height`, a gradient with fine grain (as a
 * camera gives), at `quality`. */
async function drawnJpeg(page: Page, width: number, height: number, quality: number, label: string): Promise<Buffer> {
  const base64 = await page.evaluate(
    async ({ width, height, quality, label }) => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const c = canvas.getContext("2d")!;
      const gradient = c.createLinearGradient(0, 0, width, height);
      gradient.addColorStop(0, "#2a6");
      gradient.addColorStop(1, "#c33");
      c.fillStyle = gradient;
      c.fillRect(0, 0, width, height);
      const grain = c.getImageData(0, 0, width, height);
      let seed = 7;
      for (let i = 0; i < grain.data.length; i += 4) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const n = (seed % 48) - 24;
        grain.data[i] += n;
        grain.data[i + 1] += n;
        grain.data[i + 2] += n;
      }
      c.putImageData(grain, 0, 0);
      c.fillStyle = "#000";
      c.font = `${Math.round(height / 8)}px sans-serif`;
      c.fillText(label, width / 10, height / 2);
      const blob: Blob = await new Promise((resolve) => canvas.toBlob((b) => resolve(b!), "image/jpeg", quality));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    },
    { width, height, quality, label },
  );
  return Buffer.from(base64, "base64");
}

/** The same JPEG, with an EXIF block saying « turn 90° clockwise to show », as a phone
 * held upright writes it. */
function withOrientation6(jpeg: Buffer): Buffer {
  const tiff = Buffer.from([
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // big-endian TIFF, first IFD at 8
    0x00, 0x01, // one entry
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, // Orientation = 6
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ]);
  const payload = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const length = Buffer.from([(payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), length, payload, jpeg.subarray(2)]);
}

/** Width and height from a JPEG's frame header. */
function jpegSize(jpeg: Buffer): { width: number; height: number } {
  let at = 2;
  while (at < jpeg.length) {
    const marker = jpeg[at + 1];
    const length = jpeg.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  throw new Error("no frame header");
}

/** The bytes of the file the dossier holds under `name`, as its owner gets them. */
async function storedFile(page: Page, name: string): Promise<Buffer> {
  const href = await page.getByRole("link", { name: `Voir « ${name} »` }).getAttribute("href");
  const id = new URL(href!, "http://x").searchParams.get("voir");
  const response = await page.request.get(`/espace/fichiers/${id}`);
  expect(response.status()).toBe(200);
  return Buffer.from(await response.body());
}

test("a heavy phone photo arrives lighter and upright, and the original can still be chosen", async ({ page }, info) => {
  test.skip(info.project.name === "no-js", "photos are made lighter in the browser");
  test.setTimeout(60_000);
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  // Taken with the phone held upright: stored landscape, shown portrait.
  const photo = withOrientation6(await drawnJpeg(page, 3600, 2700, 0.97, "Licence"));
  expect(photo.length).toBeGreaterThan(6_000_000);
  await page.getByLabel("choisir un fichier").setInputFiles({ name: "IMG_2041.jpg", mimeType: "image/jpeg", buffer: photo });
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible({ timeout: 30_000 });
  const stored = await storedFile(page, "IMG_2041.jpg");
  expect(stored.length).toBeLessThan(1.5 * 1024 * 1024);
  // Upright: 2,000 px on its long side, which is now its height.
  expect(jpegSize(stored)).toEqual({ width: 1500, height: 2000 });
});

test("three photos become one three-page PDF, in the order the candidate set", async ({ page }, info) => {
  test.skip(info.project.name === "no-js", "pages are assembled in the browser");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  // Three sizes, to tell the pages apart in the PDF.
  const shots = [];
  for (const [label, width, height] of [["recto", 800, 600], ["verso", 600, 800], ["annexe", 900, 500]] as const) {
    shots.push({ name: `${label}.jpg`, mimeType: "image/jpeg", buffer: await drawnJpeg(page, width, height, 0.8, label) });
  }
  // The camera where there is one.
  await expect(page.getByText("prendre une photo", { exact: true })).toBeVisible({ visible: info.project.name === "phone" });
  const add = page.getByLabel("ajouter une page");
  await add.setInputFiles(shots.slice(0, 2));
  await expect(page.locator(".page-list li")).toHaveCount(2);
  await add.setInputFiles(shots.slice(2));
  await expect(page.locator(".page-list li")).toHaveCount(3);
  // The annexe goes before the verso; a page removed and added again comes last.
  await page.getByRole("button", { name: "monter la page 3" }).click();
  await page.getByRole("button", { name: "retirer la page 1" }).click();
  await expect(page.locator(".page-list li")).toHaveCount(2);
  await add.setInputFiles(shots.slice(0, 1));
  await expect(page.locator(".page-list li")).toHaveCount(3);
  // One primary button at a time: sending the pages is it now.
  await expect(page.getByRole("button", { name: "envoyer les 3 pages en un seul PDF" })).toHaveClass(/primary/);
  await expect(page.getByRole("button", { name: "ajouter le fichier" })).toHaveClass(/secondary/);
  await page.getByRole("button", { name: "envoyer les 3 pages en un seul PDF" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  // Named after the pièce, as staff file it.
  await expect(page.locator(".file")).toContainText("diplome.pdf");
  const pdf = (await storedFile(page, "diplome.pdf")).toString("latin1");
  expect(pdf.startsWith("%PDF-")).toBe(true);
  expect(pdf.match(/\/Type \/Page /g)).toHaveLength(3);
  // Each page holds its photo as a JPEG, in the order set: annexe, verso, recto.
  expect([...pdf.matchAll(/\/Width (\d+) \/Height (\d+)/g)].map((m) => `${m[1]}x${m[2]}`)).toEqual(["900x500", "600x800", "800x600"]);
  expect(pdf.match(/\/Filter \/DCTDecode/g)).toHaveLength(3);
});

test("a PNG screenshot is sent as a JPEG instead of being refused", async ({ page }, info) => {
  test.skip(info.project.name === "no-js", "images are converted in the browser; without JavaScript the server refuses a PNG");
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  await hydrated(page);
  const png = await page.screenshot({ type: "png" });
  await page.getByLabel("choisir un fichier").setInputFiles({ name: "Capture d'écran.png", mimeType: "image/png", buffer: png });
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  const stored = await storedFile(page, "Capture d'écran.jpg");
  expect([stored[0], stored[1]]).toEqual([0xff, 0xd8]);
});
