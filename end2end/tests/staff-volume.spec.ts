import { expect, Page } from "@playwright/test";
import * as fs from "fs";
import { closedDossier, expectNoA11yViolations, mails, ownClient, STAFF_EMAIL, STAFF_PASSWORD, test } from "./helpers";

const EXAM = "demo-redacteur-territorial";

/** The numbers the list shows, in its order. */
async function listed(staff: Page): Promise<string[]> {
  return staff.locator("tbody tr[data-dossier]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-dossier")!));
}

/** The list, once the page a click opened shows it: read at once, it could be the page
 * being left, or none yet (a failure seen once in CI on PostgreSQL). */
function listShown(staff: Page, sorted = false) {
  return expect.poll(async () => {
    const numbers = await listed(staff);
    return sorted ? numbers.sort() : numbers;
  });
}

test("the service finds by e-mail, filters, follows, goes from dossier to dossier and decides in bulk", async ({ browser }, info) => {
  test.skip(info.project.name === "phone", "the service concours works on a desktop");
  test.setTimeout(180_000);
  const js = info.project.name !== "no-js";
  // Three candidates of one address domain of their own: a search by e-mail lists them.
  const domain = `lot${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}.fr`;
  const candidates: Page[] = [];
  const numbers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await (await browser.newContext({ extraHTTPHeaders: ownClient() })).newPage();
    numbers.push(await closedDossier(page, domain));
    candidates.push(page);
  }
  const staff = await (await browser.newContext({ extraHTTPHeaders: ownClient(), javaScriptEnabled: js })).newPage();
  await staff.goto("/service/connexion");
  await staff.getByLabel("Adresse électronique").fill(STAFF_EMAIL);
  await staff.getByLabel("Mot de passe", { exact: true }).fill(STAFF_PASSWORD);
  await staff.getByRole("button", { name: "Se connecter" }).click();
  await expect(staff.getByRole("heading", { level: 1 })).toHaveText("Concours et dossiers");

  // Found by the e-mail's domain, by one address, by phone with the others; filtered out by voie.
  const list = `/service/concours/${EXAM}?q=${domain}`;
  await staff.goto(list);
  await listShown(staff, true).toEqual([...numbers].sort());
  await expectNoA11yViolations(staff, js);
  await staff.getByLabel("Voie").selectOption("interne");
  await staff.getByRole("button", { name: "Rechercher" }).click();
  await expect(staff.getByText("Aucun dossier")).toBeVisible();
  await staff.getByLabel("Voie").selectOption("externe");
  await staff.getByRole("button", { name: "Rechercher" }).click();
  await listShown(staff).toHaveLength(3);
  // Saved as a view of this agent's, found again from the plain list.
  const view = `Lot ${domain}`;
  await staff.getByLabel("Enregistrer cette recherche comme vue").fill(view);
  await staff.getByRole("button", { name: "Enregistrer la vue" }).click();
  await expect(staff.getByRole("status").first()).toContainText("Vue enregistrée");
  await staff.goto(`/service/concours/${EXAM}`);
  await staff.getByRole("navigation", { name: "Mes vues" }).getByRole("link", { name: view }).click();
  await listShown(staff, true).toEqual([...numbers].sort());
  await expect(staff.getByLabel("Voie")).toHaveValue("externe");
  await expectNoA11yViolations(staff, js);
  await staff.getByRole("button", { name: `Supprimer la vue « ${view} »` }).click();
  await expect(staff.getByRole("link", { name: view })).toHaveCount(0);

  // From the list, dossier to dossier; a decision opens the next one.
  await listShown(staff).toHaveLength(3);
  const order = await listed(staff);
  await staff.locator(`tr[data-dossier="${order[0]}"] th a`).click();
  const nav = staff.getByRole("navigation", { name: "Dossiers de la liste et raccourcis" });
  await expect(nav).toContainText("Dossier 1 sur 3 de la liste");
  await expect(nav.getByRole("link", { name: `Dossier suivant (${order[1]}) ›` })).toHaveAttribute("accesskey", "n");
  await expect(nav).toContainText("Alt+Maj+N");
  await expectNoA11yViolations(staff, js);
  // « Suivre », then the candidate writes: the follower is mailed, without the message.
  await staff.getByRole("button", { name: "Suivre ce dossier" }).click();
  await expect(staff.locator("#suivi [role=status]")).toHaveText("Suivi enregistré.");
  await expect(staff.locator("[data-follower]")).toContainText("(vous)");
  const writer = candidates[numbers.indexOf(order[0])];
  await writer.goto("/espace/messages");
  await writer.getByLabel("Votre message au service concours").fill("Mon adresse a changé : 3 rue des Lilas.");
  await writer.getByRole("button", { name: "Envoyer le message" }).click();
  await expect
    .poll(() => mails().filter((m) => m.includes(`dossier suivi ${order[0]}`) && m.includes("service.concours@exemple.fr")).length)
    .toBe(1);
  expect(mails().filter((m) => m.includes(`dossier suivi ${order[0]}`)).join()).not.toContain("Lilas");

  await staff.getByRole("button", { name: "Dossier complet" }).click();
  await staff.getByRole("button", { name: "Confirmer : dossier complet" }).click();
  await expect(staff.locator("h1")).toContainText(order[1]);
  await expect(staff.locator(`[data-after="${order[0]}"]`)).toContainText("Voici le dossier suivant de la liste");
  await expect(staff.getByRole("navigation", { name: "Dossiers de la liste et raccourcis" })).toContainText("Dossier 2 sur 3 de la liste");
  await staff.getByRole("link", { name: `‹ Dossier précédent (${order[0]})` }).click();
  await expect(staff.locator("[data-review]")).toHaveText("complet");

  // « Mes dossiers »: the one followed, its follower in the list.
  await staff.goto(`/service/concours/${EXAM}?q=${domain}&suivi=1`);
  await listShown(staff).toEqual([order[0]]);
  await expect(staff.locator(`tr[data-dossier="${order[0]}"] [data-followers]`)).toHaveText("Service concours (démo)");

  // Bulk: all complete, after a confirmation that shows how many and the mail.
  await staff.goto(list);
  await staff.getByRole("link", { name: "Cocher tous les dossiers de cette page" }).click();
  for (const n of numbers) await expect(staff.getByLabel(`Sélectionner le dossier ${n}`)).toBeChecked();
  await staff.getByLabel("Action", { exact: true }).selectOption("complet");
  await staff.getByRole("button", { name: "Continuer" }).click();
  await expect(staff.locator("h1")).toHaveText("Action groupée : Marquer complets");
  await expect(staff.locator("[data-bulk-count]")).toHaveAttribute("data-bulk-count", "3");
  await expect(staff.locator("[data-mail]")).toContainText("il est complet");
  await expectNoA11yViolations(staff, js);
  await staff.getByRole("button", { name: "Confirmer : Marquer complets (3 dossiers)" }).click();
  await expect(staff.locator("[data-bulk-done]")).toContainText("3 dossier(s) traité(s)");
  for (const n of numbers) await expect(staff.locator(`tr[data-dossier="${n}"] [data-stage]`)).toHaveAttribute("data-stage", "complet");

  // One rejected with a reason typed on the confirmation, where the mail shows it goes.
  await staff.getByLabel(`Sélectionner le dossier ${order[2]}`).check();
  await staff.getByLabel("Action", { exact: true }).selectOption("rejete");
  await staff.getByRole("button", { name: "Continuer" }).click();
  await expect(staff.locator("[data-mail]")).toContainText("Motif : [le texte saisi ci-dessous]");
  await staff.getByLabel("Motif du rejet").fill("Diplôme non reconnu");
  await staff.getByRole("button", { name: "Confirmer : Rejeter (même motif pour tous) (1 dossier)" }).click();
  await expect(staff.locator(`tr[data-dossier="${order[2]}"] [data-stage]`)).toHaveAttribute("data-stage", "rejete");
  // Its mail goes a minute after the decision.
  await expect.poll(() => mails().filter((m) => m.includes(`Dossier n° ${order[2]}`) && m.includes("Motif : Diplôme non reconnu")).length, { timeout: 90_000 }).toBe(1);

  // All three admitted: the confirmation says the rejected one cannot be, and why.
  await staff.getByRole("link", { name: "Cocher tous les dossiers de cette page" }).click();
  await staff.getByLabel("Action", { exact: true }).selectOption("admis");
  await staff.getByRole("button", { name: "Continuer" }).click();
  await expect(staff.locator("[data-bulk-count]")).toContainText("3 dossier(s) sélectionné(s) ; l'action s'appliquera à 2.");
  await expect(staff.locator(`tr[data-dossier="${order[2]}"]`)).toContainText("Non : Une décision a déjà été prise sur ce dossier.");
  await staff.getByRole("button", { name: "Confirmer : Admettre à concourir (2 dossiers)" }).click();
  await expect(staff.locator("[data-bulk-done]")).toContainText("2 dossier(s) traité(s)");
  for (const n of order.slice(0, 2)) await expect(staff.locator(`tr[data-dossier="${n}"] [data-stage]`)).toHaveAttribute("data-stage", "admis");
  // Each decision is in its dossier's journal.
  await staff.goto(`/service/dossiers/${order[1]}`);
  await expect(staff.locator("table.audit")).toContainText("dossier complet");
  await expect(staff.locator("table.audit")).toContainText("admis à concourir");
  const admitted = candidates[numbers.indexOf(order[1])];
  await admitted.goto("/espace");
  await expect(admitted.locator("[data-status]")).toHaveText("Vous êtes admis à concourir.");
  // Taken back, with a reason: to check again, and in the journal.
  await staff.getByLabel("Revenir sur la décision (admis à concourir) : motif, que le candidat lira").fill("Admis par erreur");
  await staff.getByRole("button", { name: "Revenir sur la décision" }).click();
  await expect(staff.locator(".closure-status")).toContainText("Clôturé, en cours d'instruction");
  await expect(staff.locator("table.audit")).toContainText("admis à concourir : Admis par erreur");

  // An export model: the columns ticked, in the order given, saved for the team.
  await staff.goto(list);
  await staff.getByRole("link", { name: "choisir les colonnes, modèles d'export" }).click();
  await expect(staff.locator("[data-export-count]")).toHaveAttribute("data-export-count", "3");
  await expectNoA11yViolations(staff, js);
  for (const box of await staff.locator("input[name=c]").all()) await box.uncheck();
  await staff.getByLabel("Adresse électronique", { exact: true }).check();
  await staff.getByLabel("Ordre de la colonne « Adresse électronique »").fill("1");
  await staff.getByLabel("N° de dossier", { exact: true }).check();
  await staff.getByLabel("Ordre de la colonne « N° de dossier »").fill("2");
  const name = `Courriels ${domain}`;
  await staff.getByLabel("Nom du modèle").fill(name);
  await staff.getByRole("button", { name: "Enregistrer ces colonnes comme modèle" }).click();
  await expect(staff.getByRole("status")).toContainText("Modèle enregistré");
  const saved = staff.getByRole("link", { name: `${name} (CSV)` });
  const download = staff.waitForEvent("download");
  await saved.click();
  const csv = fs.readFileSync((await (await download).path())!).toString("utf8").replace(/^\uFEFF/, "");
  const lines = csv.split("\r\n").filter((l) => l);
  expect(lines[0]).toBe("Adresse électronique;N° de dossier");
  expect(lines.slice(1).map((l) => l.split(";")[1]).sort()).toEqual([...numbers].sort());
  expect(lines.slice(1).every((l) => l.split(";")[0].endsWith(`@${domain}`))).toBe(true);
  await staff.getByRole("button", { name: `Supprimer « ${name} »` }).click();
  await expect(staff.getByRole("status")).toContainText("Modèle supprimé");
});
