import { createHash } from "crypto";
import { expect } from "@playwright/test";
import { DEMO_NUMBER, DEMO_PASSWORD, expectNoA11yViolations, login, mails, pdfFile, registerQuickly, test } from "./helpers";

/** The entries of a ZIP, read from its central directory: name → bytes (stored). An
 * entry written as a stream has its sizes and place in a ZIP64 extra field. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end, "an end of central directory").toBeGreaterThan(0);
  let at = zip.readUInt32LE(end + 16);
  const count = zip.readUInt16LE(end + 10);
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    let size = zip.readUInt32LE(at + 20);
    let plain = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    let local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    // The ZIP64 field (id 1): the 8-byte values of those set to 0xFFFFFFFF, in order.
    for (let field = at + 46 + nameLength; field < at + 46 + nameLength + extra; ) {
      const id = zip.readUInt16LE(field);
      const length = zip.readUInt16LE(field + 2);
      if (id === 1) {
        let value = field + 4;
        const next = () => {
          const v = Number(zip.readBigUInt64LE(value));
          value += 8;
          return v;
        };
        if (plain === 0xffffffff) plain = next();
        if (size === 0xffffffff) size = next();
        if (local === 0xffffffff) local = next();
      }
      field += 4 + length;
    }
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    entries.set(name, zip.subarray(data, data + size));
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

test("« Mes données » gives the candidate everything held on them, files with their SHA-256", async ({ page, request }) => {
  await registerQuickly(page);
  await page.goto("/espace/pieces/diplome");
  const file = pdfFile("Licence été 2012.pdf", 500);
  await page.getByLabel("choisir un fichier").setInputFiles(file);
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await page.goto("/espace");
  const link = page.getByRole("link", { name: "Télécharger toutes mes données (ZIP)" });
  await expect(link).toHaveAttribute("href", "/espace/mes-donnees.zip");
  const response = await page.request.get("/espace/mes-donnees.zip");
  expect(response.status()).toBe(200);
  expect(response.headers()["content-type"]).toBe("application/zip");
  expect(response.headers()["content-disposition"]).toMatch(/^attachment; filename="mes-donnees-.*\.zip"/);
  const entries = unzip(await response.body());
  expect([...entries.keys()].sort()).toEqual(
    ["donnees.html", "donnees.json", "dossier-inscription.pdf", "pieces/Copie du diplôme - Licence été 2012.pdf"].sort(),
  );
  const data = JSON.parse(entries.get("donnees.json")!.toString("utf8"));
  expect(data.reponses.birth_name).toMatch(/^Test/i);
  expect(data.dossier.etat).toBe("préinscrit, en construction");
  const sha = createHash("sha256").update(file.buffer).digest("hex");
  expect(data.pieces).toEqual([expect.objectContaining({ piece: "Copie du diplôme", sha256: sha, taille_octets: file.buffer.length })]);
  expect(createHash("sha256").update(entries.get("pieces/Copie du diplôme - Licence été 2012.pdf")!).digest("hex")).toBe(sha);
  expect(data.courriels.length).toBeGreaterThanOrEqual(1);
  expect(data.sessions.length).toBe(1);
  expect(entries.get("dossier-inscription.pdf")!.subarray(0, 5).toString()).toBe("%PDF-");
  const html = entries.get("donnees.html")!.toString("utf8");
  expect(html).toContain('<html lang="fr">');
  expect(html).toContain(sha);
  // Someone without a session gets the login page, not a file.
  const refused = await request.get("/espace/mes-donnees.zip", { maxRedirects: 0 });
  expect(refused.status()).toBe(303);
  expect(refused.headers()["location"]).toBe("/connexion?info=session");
});

test("the demo candidate's « Mes données » opens", async ({ page }) => {
  await login(page, DEMO_NUMBER, DEMO_PASSWORD);
  await expect(page).toHaveURL(/\/espace$/);
  const response = await page.request.get("/espace/mes-donnees.zip");
  expect(response.status()).toBe(200);
  const data = JSON.parse(unzip(await response.body()).get("donnees.json")!.toString("utf8"));
  expect(data.dossier.numero).toBe(DEMO_NUMBER);
});

test("a candidate withdraws before the deadline: a confirmation, then « Votre inscription est annulée »", async ({ page }, info) => {
  const number = await registerQuickly(page);
  await page.getByRole("link", { name: "Annuler mon inscription" }).click();
  await expect(page).toHaveURL(/\/espace\/desistement$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Me désister");
  await expectNoA11yViolations(page, info.project.name !== "no-js");
  // « Non » changes nothing.
  await page.getByRole("link", { name: "Non, revenir à mon dossier" }).click();
  await expect(page).toHaveURL(/\/espace$/);
  await page.getByRole("link", { name: "Annuler mon inscription" }).click();
  await page.getByRole("button", { name: "Oui, j'annule mon inscription" }).click();
  await expect(page).toHaveURL(/\/espace\?desistement=ok$/);
  await expect(page.getByRole("status").filter({ hasText: "Votre inscription est annulée." })).toBeVisible();
  await expect(page.locator("[data-status]")).toHaveText("Votre inscription est annulée.");
  await expect(page.getByRole("link", { name: "Annuler mon inscription" })).toHaveCount(0);
  await expectNoA11yViolations(page, info.project.name !== "no-js");
  // The pièces take nothing more, and the closure is gone.
  await page.goto("/espace/pieces/diplome");
  await expect(page.getByText("Votre dossier n'accepte plus de modification pour cette pièce.")).toBeVisible();
  await expect
    .poll(() => mails().some((m) => m.includes(`Dossier n° ${number}`) && m.includes("Votre désistement est enregistré")))
    .toBe(true);
});
