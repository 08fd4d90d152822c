import { expect, Browser, Page } from "@playwright/test";
import * as fs from "fs";
import { closedDossier, expectNoA11yViolations, mails, ownClient, ownServer, pdfFile, staffPage, STAFF_EMAIL, STAFF_PASSWORD, test } from "./helpers";

const EXAM = "Concours de rédacteur territorial (démonstration)";

test("the service concours finds a closed dossier, previews and downloads its files, and exports the list", async ({ page, browser }, info) => {
  test.skip(info.project.name !== "desktop", "the service concours works on a desktop");
  test.setTimeout(60_000);
  const number = await closedDossier(page);
  // The candidate's session does not open the service's pages.
  await page.goto("/service");
  await expect(page).toHaveURL(/\/service\/connexion\?info=session/);

  const staff = await (await browser.newContext({ extraHTTPHeaders: ownClient() })).newPage();
  await staff.goto("/service");
  await expect(staff).toHaveURL(/\/service\/connexion/);
  await expectNoA11yViolations(staff, true);
  await staff.getByLabel("Adresse électronique").fill(STAFF_EMAIL);
  await staff.getByLabel("Mot de passe", { exact: true }).fill("pas le bon");
  await staff.getByRole("button", { name: "Se connecter" }).click();
  await expect(staff.getByRole("alert")).toHaveText("Adresse électronique ou mot de passe incorrect.");
  await staff.getByLabel("Adresse électronique").fill(STAFF_EMAIL);
  await staff.getByLabel("Mot de passe", { exact: true }).fill(STAFF_PASSWORD);
  await staff.getByRole("button", { name: "Se connecter" }).click();

  // The exams, with their dossiers counted by state.
  await expect(staff.getByRole("heading", { level: 1 })).toHaveText("Concours et dossiers");
  await expectNoA11yViolations(staff, true);
  const row = staff.locator("[data-exam=demo-redacteur-territorial]");
  // Counted by what the service has to do: a closed dossier nobody looked at yet.
  await expect(row.locator("[data-state=a-verifier]")).not.toHaveText("0");
  // When its dossiers will be erased, known beforehand; a notice's past exam is long
  // past its 24 months.
  await expect(row.locator("[data-purge]")).toContainText("(24 mois après la date limite)");
  await expect(staff.locator("[data-exam=adjoint-patrimoine-principal-2e-classe-2024] [data-purge]")).toContainText(
    "durée de conservation écoulée depuis le lundi 1er décembre 2025",
  );
  await row.getByRole("link", { name: EXAM, exact: true }).click();

  // Search by the number as someone reads it out, filtered on closed dossiers.
  await staff.getByLabel("N° de dossier, nom, courriel ou téléphone").fill(number.replace(/-/g, " ").toLowerCase());
  await staff.getByLabel("État").selectOption("cloture");
  await staff.getByLabel("Trier par").selectOption("nom");
  await staff.getByRole("button", { name: "Rechercher" }).click();
  await expect(staff.getByRole("status")).toContainText("1 dossier");
  await expectNoA11yViolations(staff, true);
  const csv = staff.waitForEvent("download");
  await staff.getByRole("link", { name: "CSV", exact: true }).click();
  const exported = await csv;
  const text = fs.readFileSync((await exported.path())!, "utf8");
  expect(text.charCodeAt(0)).toBe(0xfeff);
  expect(text.split("\r\n")[1].split(";")[0]).toBe(number);
  // Every answer and where the instruction stands, by column.
  const [header, line] = text.replace(/^\uFEFF/, "").split("\r\n").map((l) => l.split(";"));
  expect(line[header.indexOf("Voie")]).toBe("externe");
  expect(line[header.indexOf("État")]).toBe("à vérifier");
  expect(line[header.indexOf("Date de naissance")]).toBe("1990-07-14");

  const sheet = staff.waitForEvent("download");
  await staff.getByRole("link", { name: "tableur (XLSX)" }).click();
  const workbook = await sheet;
  expect(workbook.suggestedFilename()).toBe("dossiers-demo-redacteur-territorial.xlsx");
  // An XLSX file is a ZIP archive.
  expect(fs.readFileSync((await workbook.path())!).subarray(0, 2).toString()).toBe("PK");

  const all = staff.waitForEvent("download");
  await staff.getByRole("link", { name: "Télécharger les dossiers clôturés (ZIP)" }).click();
  expect((await all).suggestedFilename()).toBe("dossiers-clotures-demo-redacteur-territorial.zip");

  await staff.getByRole("link", { name: number }).click();
  await expect(staff.getByRole("heading", { level: 1 })).toContainText(number);
  // The way back leads to the list as it was: searched, filtered, ordered.
  const back = staff.locator(".breadcrumb a").last();
  await expect(back).toHaveAttribute("href", /\/service\/concours\/demo-redacteur-territorial\?q=.+&etat=cloture&tri=nom&page=1$/);
  await expect(staff.locator(".closure-status")).toContainText("Clôturé, en cours d'instruction le");
  await expectNoA11yViolations(staff, true);
  const zip = staff.waitForEvent("download");
  await staff.getByRole("link", { name: "Télécharger tous les fichiers (ZIP)" }).click();
  expect((await zip).suggestedFilename()).toBe(`dossier-${number}.zip`);
  // The preview's frame fetches the file; the log is written before it is served.
  const looked = staff.waitForResponse((r) => /\/service\/fichiers\/[^/?]+$/.test(new URL(r.url()).pathname) && r.status() === 200);
  // The preview beside the pièces changes; the dossier's page stays.
  const dossierUrl = staff.url();
  await staff.getByRole("link", { name: "Voir « Licence.pdf »" }).click();
  await looked;
  await expect.poll(() => staff.frame({ name: "apercu" })?.url()).toMatch(/\/service\/fichiers\/[^/?]+$/);
  expect(staff.url()).toBe(dossierUrl);
  // The checklist: the pièce marked, in the journal too.
  await staff.getByRole("button", { name: "Copie du diplôme : à corriger" }).click();
  await expect(staff.locator("#piece-diplome [data-check]")).toHaveAttribute("data-check", "a-corriger");
  await expect(staff.getByLabel("Copie du diplôme", { exact: true })).toBeChecked();
  // Every look and download is in the dossier's log.
  await staff.reload();
  await expect(staff.locator("table.audit")).toContainText("fichier consulté : Licence.pdf");
  await expect(staff.locator("table.audit")).toContainText("pièce à corriger : Copie du diplôme");
  await expect(staff.locator("table.audit")).toContainText("dossier téléchargé (ZIP) : 2 fichier(s)");

  await staff.getByRole("button", { name: "Se déconnecter" }).click();
  await expect(staff.getByText("Vous êtes déconnecté.")).toBeVisible();
  await staff.goto("/service");
  await expect(staff).toHaveURL(/\/service\/connexion\?info=session/);
});

test("a decision recorded by the service is what the candidate reads, and a reopened dossier takes the missing file", async ({ page, browser }, info) => {
  test.skip(info.project.name !== "desktop", "the service concours works on a desktop");
  test.setTimeout(150_000);
  const number = await closedDossier(page);
  const staff = await staffPage(browser);
  await staff.goto(`/service/dossiers/${number}`);
  // Not complete yet: admitting is not offered.
  await expect(staff.getByRole("button", { name: "Admettre à concourir" })).toBeDisabled();
  await staff.getByLabel("Pièces manquantes ou à corriger").fill("Copie du diplôme recto verso");
  await staff.getByRole("button", { name: "Dossier incomplet" }).click();
  await expect(staff.getByRole("status")).toContainText("le candidat en est informé");
  const inAWeek = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await staff.getByLabel("Rouvrir au candidat jusqu'au (inclus)").fill(inAWeek);
  await staff.getByRole("button", { name: "Rouvrir le dossier" }).click();
  await expect(staff.locator("[data-review]")).toHaveText("incomplet : Copie du diplôme recto verso");
  await expectNoA11yViolations(staff, true);

  // The candidate reads it, and may add the file although the dossier is closed.
  await page.goto("/espace");
  const note = page.locator("[data-instruction]");
  await expect(note).toContainText("Votre dossier est incomplet.");
  await expect(note).toContainText("Pièces manquantes ou à corriger : Copie du diplôme recto verso");
  // A warning, not a success, with what the candidate can do now and until when.
  await expect(note).toHaveClass(/warning/);
  await expect(note.locator("[data-next-step]")).toContainText("le service concours a rouvert votre dossier");
  await expect(note.locator("[data-next-step]")).toContainText("avant minuit (heure de Paris)");
  await page.goto("/espace/pieces/diplome");
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("Diplôme recto verso.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();

  // Each decision that mails the candidate shows the mail first.
  await staff.getByRole("button", { name: "Dossier complet" }).click();
  await expect(staff.locator("[data-confirm=complet] [data-mail]")).toContainText("il est complet");
  await expectNoA11yViolations(staff, true);
  await staff.getByRole("button", { name: "Confirmer : dossier complet" }).click();
  await staff.getByRole("button", { name: "Admettre à concourir" }).click();
  await expect(staff.locator("[data-confirm=admis] [data-mail]")).toContainText("vous êtes admis à concourir");
  await staff.getByRole("button", { name: "Confirmer : admettre à concourir" }).click();
  await expect(staff.locator(".closure-status")).toContainText("Admis à concourir");
  // Decided: no more forms, and the log says who did what.
  await expect(staff.getByRole("button", { name: "Rejeter le dossier" })).toHaveCount(0);
  await expect(staff.locator("table.audit")).toContainText("dossier incomplet : Copie du diplôme recto verso");
  await expect(staff.locator("table.audit")).toContainText("admis à concourir");

  await page.goto("/espace");
  await expect(page.locator("[data-status]")).toHaveText("Vous êtes admis à concourir.");
  await expect(page.getByText("admis à concourir", { exact: true })).toBeVisible();
  // And a mail for each decision, a minute after it (« complet » then « admis » make
  // one): incomplet, rouvert, admis.
  await expect.poll(() => mails().filter((m) => m.includes(`Dossier n° ${number}`)).length, { timeout: 90_000 }).toBe(3);
  expect(mails().filter((m) => m.includes(`Dossier n° ${number}`) && m.includes("il est complet.")).length).toBe(0);
});

test("the service creates an exam in the browser, checks its closing instant and publishes it", async ({ browser }, info) => {
  test.skip(info.project.name !== "desktop", "the service concours works on a desktop");
  // A new published exam would change the catalogue every other test reads.
  const server = await ownServer(() => ({ APP_DEMO: "true" }));
  try {
  const staff = await staffPage(browser, server.url);
  await staff.getByRole("link", { name: "Créer un examen" }).click();
  await expect(staff.getByRole("heading", { level: 1 })).toHaveText("Créer un examen");
  await expectNoA11yViolations(staff, true);
  const slug = `attache-${Date.now()}`;
  await staff.getByLabel("Intitulé", { exact: true }).first().fill("Concours d'attaché territorial");
  await staff.getByLabel(/^Identifiant/).fill(slug);
  await staff.getByLabel("Session").fill("Session 2027");
  await staff.getByLabel("Dernier jour des inscriptions").fill("2027-10-31");
  await staff.getByLabel("Dernier jour des pièces transmises ultérieurement").fill("2027-11-30");
  await staff.getByLabel("Publié (visible au catalogue, ouvert aux préinscriptions)").check();
  const piece = staff.locator("fieldset.piece-editor").first();
  await piece.getByLabel(/^Code/).fill("piece-identite");
  await piece.getByLabel("Intitulé").fill("Pièce d'identité");
  await staff.getByRole("button", { name: "Vérifier" }).click();
  // The last Sunday of October: back to winter time, midnight in Paris is 23:00 UTC.
  await expect(staff.getByRole("status")).toContainText("dimanche 31 octobre 2027");
  await expect(staff.locator("[data-closing]")).toContainText("2027-10-31T23:00:00Z");
  // What was typed is still there, and one more blank pièce is offered.
  await expect(staff.locator("fieldset.piece-editor")).toHaveCount(2);
  await staff.getByRole("button", { name: "Enregistrer" }).click();
  // The notice names the exam by its title, looked up from the slug in the address.
  await expect(staff.getByRole("status")).toContainText("L'examen « Concours d'attaché territorial » est enregistré.");
  await expect(staff.locator(`[data-exam=${slug}]`)).toContainText("Concours d'attaché territorial");

  const visitor = await (await browser.newContext({ baseURL: server.url })).newPage();
  await visitor.goto("/");
  await expect(visitor.locator(`[data-exam=${slug}]`)).toContainText("Concours d'attaché territorial");
  } finally {
    server.stop();
  }
});

test("the service asks for a correction; the candidate replaces the pièce and answers; the service sees it", async ({ page, browser }, info) => {
  test.setTimeout(90_000);
  const jsOn = info.project.name !== "no-js";
  const number = await closedDossier(page);

  // The service asks for the diploma again, until a few days from now (its pages, in
  // a context of the same project: without JavaScript in the no-js one).
  const staff = await staffPage(browser);
  await staff.goto(`/service/dossiers/${number}`);
  const reason = "Le scan du diplôme est illisible : envoyez-le en couleur.";
  await staff.getByRole("checkbox", { name: "Copie du diplôme" }).check();
  await staff.getByLabel("Ce qu'il faut corriger").fill(reason);
  // A day already past is refused in the form, and what was typed is still there.
  await staff.getByLabel("À corriger jusqu'au (inclus)").fill("2020-01-15");
  await staff.getByRole("button", { name: "Demander la correction" }).click();
  await expect(staff.locator("#correction [role=alert]")).toBeVisible();
  await expect(staff.getByLabel("Ce qu'il faut corriger")).toHaveValue(reason);
  await expect(staff.getByRole("checkbox", { name: "Copie du diplôme" })).toBeChecked();
  await expect(staff.getByLabel("À corriger jusqu'au (inclus)")).toHaveValue("2020-01-15");
  const until = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  await staff.getByLabel("À corriger jusqu'au (inclus)").fill(until);
  await staff.getByRole("button", { name: "Demander la correction" }).click();
  await expect(staff.getByRole("status").filter({ hasText: "Correction demandée" })).toBeVisible();
  await expect(staff.locator("table.audit")).toContainText("correction demandée : Copie du diplôme");
  await expectNoA11yViolations(staff, jsOn);

  // The candidate reads what to correct and until when, on the dossier page.
  await page.goto("/espace");
  const corrections = page.getByRole("region", { name: "Corrections demandées par le service concours" });
  await expect(corrections).toContainText(reason);
  await expect(page.locator("[data-piece=diplome]")).toContainText("à corriger le ");
  await expectNoA11yViolations(page, jsOn);

  // Only that pièce opens again: the old file goes, the new one comes.
  await corrections.getByRole("link", { name: "Copie du diplôme" }).click();
  await expect(page.getByText("Le service concours vous demande de corriger cette pièce")).toBeVisible();
  await page.getByRole("link", { name: "Supprimer « Licence.pdf »" }).click();
  await page.getByRole("button", { name: "Oui, supprimer" }).click();
  await expect(page.getByText("Le fichier a été supprimé.")).toBeVisible();
  await page.getByLabel("choisir un fichier").setInputFiles(pdfFile("Licence en couleur.pdf"));
  await page.getByRole("button", { name: "ajouter le fichier" }).click();
  await expect(page.getByText("fichier enregistré")).toBeVisible();
  await page.goto("/espace/pieces/piece-identite");
  await expect(page.getByText("Votre dossier n'accepte plus de modification pour cette pièce.")).toBeVisible();
  // Done before the date: the candidate says so, the pièce closes, a new receipt comes.
  await page.goto("/espace");
  await page.getByRole("button", { name: "J'ai terminé ma correction" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Votre correction est transmise au service concours." })).toBeVisible();
  await page.goto("/espace/pieces/diplome");
  await expect(page.getByText("Votre dossier n'accepte plus de modification pour cette pièce.")).toBeVisible();

  // The request is in the conversation; the candidate answers it there.
  await page.goto("/espace");
  await page.getByRole("link", { name: /Messages avec le service concours/ }).click();
  await expect(page.locator(".message.from-service")).toContainText("Correction demandée");
  await expect(page.locator(".message.from-service")).toContainText(reason);
  await page.getByLabel("Votre message au service concours").fill("C'est fait : le diplôme en couleur est déposé.");
  await page.getByLabel("Joindre un fichier (facultatif)").setInputFiles(pdfFile("Attestation.pdf"));
  await page.getByRole("button", { name: "Envoyer le message" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Message envoyé." })).toBeVisible();
  await expect(page.locator(".message").last()).toContainText("C'est fait : le diplôme en couleur est déposé.");
  await expect(page.getByRole("link", { name: /Pièce jointe : Attestation\.pdf/ })).toBeVisible();
  await expectNoA11yViolations(page, jsOn);

  // The service sees the correction came back, an answer waiting, the answer with its
  // file, and the new diploma.
  await staff.goto(`/service/concours/demo-redacteur-territorial?etat=correction-recue&q=${number}`);
  await expect(staff.locator(`[data-dossier="${number}"] [data-stage]`)).toHaveText("Correction reçue, à revoir");
  await expect(staff.locator(`[data-dossier="${number}"]`)).toContainText("message sans réponse");
  await staff.locator(`[data-dossier="${number}"]`).getByRole("link", { name: "message sans réponse" }).click();
  await expect(staff.locator(".message").last()).toContainText("Le candidat");
  await expect(staff.locator(".message").last()).toContainText("C'est fait : le diplôme en couleur est déposé.");
  await expect(staff.locator("[data-piece=diplome]")).toContainText("Licence en couleur.pdf");
  await expectNoA11yViolations(staff, jsOn);
  // The journal keeps the replaced file, by the candidate, during the correction.
  await expect(staff.locator("table.audit")).toContainText("fichier supprimé : Copie du diplôme : « Licence.pdf »");
  await expect(staff.locator("table.audit")).toContainText("fichier déposé : Copie du diplôme : « Licence en couleur.pdf »");
  await expect(staff.locator("table.audit tr", { hasText: "Licence en couleur.pdf" })).toContainText("Le candidat");
  // A note for the service only, and the message needs no answer.
  await staff.getByLabel("Note interne").fill("Diplôme en couleur reçu, à valider par la cheffe de service.");
  await staff.getByRole("button", { name: "Ajouter la note" }).click();
  await expect(staff.getByRole("status").filter({ hasText: "Note ajoutée au journal." })).toBeVisible();
  await expect(staff.locator("table.audit")).toContainText("note interne : Diplôme en couleur reçu");
  await staff.getByRole("button", { name: "Marquer comme traité" }).click();
  await expect(staff.locator("table.audit")).toContainText("message marqué comme traité");
  // Found by its number: the list has pages, and many dossiers by now.
  await staff.goto(`/service/concours/demo-redacteur-territorial?q=${number}`);
  await expect(staff.locator(`[data-dossier="${number}"]`)).not.toContainText("message sans réponse");
  await page.goto("/espace/messages");
  await expect(page.locator("main")).not.toContainText("Diplôme en couleur reçu, à valider");
  // The candidate was told by mail, without the reason.
  await expect.poll(() => mails().filter((m) => m.includes("vous demande de corriger") && m.includes(number)).length).toBe(1);
  expect(mails().filter((m) => m.includes("vous demande de corriger")).some((m) => m.includes("illisible"))).toBe(false);
});
