import { expect } from "@playwright/test";
import { registerQuickly, test } from "./helpers";
import AxeBuilder from "@axe-core/playwright";

const EXAMS = [
  {
    slug: "demo-redacteur-territorial",
    title: "Concours de rédacteur territorial (démonstration)",
    status: "Inscriptions ouvertes",
  },
  {
    slug: "animateur-territorial-2025",
    title: "Concours interne et externe d'animateur territorial",
    deadline: "jeudi 17 avril 2025 avant minuit (heure de Paris)",
    status: "Inscriptions closes",
  },
  {
    slug: "adjoint-patrimoine-principal-2e-classe-2024",
    title: "Examen professionnel d'adjoint du patrimoine principal de 2ème classe",
    deadline: "jeudi 30 novembre 2023 avant minuit (heure de Paris)",
    status: "Inscriptions closes",
  },
];

test("the catalogue lists the three exams with their deadlines and states", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Concours et examens professionnels",
  );
  const cards = page.locator(".exam-card");
  await expect(cards).toHaveCount(3);
  for (const [i, exam] of EXAMS.entries()) {
    const card = cards.nth(i);
    await expect(card).toHaveAttribute("data-exam", exam.slug);
    await expect(card.getByRole("heading", { level: 2 })).toHaveText(exam.title);
    if (exam.deadline) await expect(card.locator(".deadline")).toContainText(exam.deadline);
    await expect(card.locator(".status-label")).toHaveText(exam.status);
  }
  await expect(cards.first().locator(".deadline")).toContainText(/avant minuit \(heure de Paris\)/);
});

test("the catalogue shows the time left as the server counts it, and loads no Wasm", async ({ page }) => {
  // Plain HTML: a phone gets the catalogue without downloading or running any Wasm.
  const code: string[] = [];
  page.on("request", (r) => {
    if (/\.(wasm|js)(\?|$)/.test(r.url())) code.push(r.url());
  });
  await page.goto("/");
  const countdown = page.locator("[data-exam=demo-redacteur-territorial] [data-countdown]");
  expect(await countdown.textContent()).toMatch(/^\d+ j \d\d h \d\d min \d\d s$/);
  await page.waitForLoadState("networkidle");
  expect(code).toEqual([]);
  // Closed exams have no countdown.
  await expect(page.locator("[data-exam=animateur-territorial-2025] [data-countdown]")).toHaveCount(0);
});

test("the dossier's countdown is complete as served, and runs only where scripts run", async ({ page }, info) => {
  // The catalogue loads no script at all; the dossier page's status ticks in the Wasm, so
  // there the same check can fail either way.
  await registerQuickly(page);
  const countdown = page.locator("[data-countdown]");
  const first = await countdown.textContent();
  expect(first).toMatch(/^\d+ j \d\d h \d\d min \d\d s$/);
  if (info.project.name === "no-js") {
    await page.waitForTimeout(1500);
    expect(await countdown.textContent()).toBe(first);
  } else {
    await expect(countdown).not.toHaveText(first!, { timeout: 5_000 });
  }
});

test("no accessibility violations", async ({ page }, info) => {
  // axe runs as a script in the page; the DOM is the same with JavaScript off.
  test.skip(info.project.name === "no-js", "axe needs JavaScript");
  await page.goto("/");
  await expect(page.locator(".exam-card")).toHaveCount(3);
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});

test("fits a 320 px wide screen without horizontal scrolling", async ({ page }) => {
  await page.setViewportSize({ width: 320, height: 640 });
  await page.goto("/");
  await expect(page.locator(".exam-card")).toHaveCount(3);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

test("an unknown address shows a French 404 page", async ({ page }) => {
  const response = await page.goto("/nulle-part");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page introuvable");
});
