// The social-tariff application form in a real browser, as a household
// using only the keyboard would: log in, reach every field with Tab, send
// the form empty and hear the errors, fill it, send it. axe-core checks
// every page met on the way; no serious or critical violation is allowed.
//
// Usage: node application_form.mjs BASE_URL USERNAME PASSWORD ARTIFACT_DIR
// Prints one JSON report on stdout; exits 1 when a check fails.
import { launch, audit as auditWith, watchCsp } from './common.mjs';
import { mkdirSync } from 'node:fs';

const [base, username, password, artifacts] = process.argv.slice(2);
if (!base || !username || !password || !artifacts) {
  console.error('usage: node application_form.mjs BASE_URL USERNAME PASSWORD ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const report = { pages: [], failures: [] };
const fail = (msg) => report.failures.push(msg);

const browser = await launch();
const context = browser.context;

const audit = (page, name) => auditWith(page, name, report, artifacts);

/** Presses Tab until the element with this id has the focus. */
async function tabTo(page, id, limit = 80) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((want) => document.activeElement && document.activeElement.id === want, id)) return true;
  }
  fail(`#${id} cannot be reached with the Tab key`);
  return false;
}

/** Tabs to a field and types into it. */
async function typeInto(page, id, text) {
  if (await tabTo(page, id)) await page.keyboard.type(text);
}

/** Tabs to the button whose text is given and presses Enter. */
async function pressButton(page, text) {
  for (let i = 0; i < 120; i++) {
    await page.keyboard.press('Tab');
    const label = await page.evaluate(() => document.activeElement && document.activeElement.tagName === 'BUTTON' ? document.activeElement.textContent.trim() : null);
    if (label === text) {
      await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      return true;
    }
  }
  fail(`button « ${text} » cannot be reached with the Tab key`);
  return false;
}

try {
  const page = await context.newPage();
  watchCsp(page, report);
  await page.goto(`${base}/connexion`);
  await audit(page, '01-connexion');
  await typeInto(page, 'identifiant', username);
  await typeInto(page, 'mot_de_passe', password);
  await pressButton(page, 'Se connecter');

  await page.goto(`${base}/mon-espace/demande`);
  await audit(page, '02-formulaire');
  for (const id of ['nom', 'adresse', 'code_postal', 'commune', 'taille_foyer', 'prestation-aah', 'contact-courrier', 'courriel']) {
    const labelled = await page.evaluate((want) => {
      const el = document.getElementById(want);
      return !!el && !!document.querySelector(`label[for="${want}"]`);
    }, id);
    if (!labelled) fail(`#${id} has no label`);
  }

  // The name comes prefilled with what the régie knows of the household.
  const prefilled = await page.evaluate(() => document.getElementById('nom').value);
  if (!prefilled) fail('#nom is not prefilled with the household\'s name');
  report.prefilled = prefilled;

  // Sent with the rest empty: the summary at the top is announced
  // (role=alert) and links to each field, each field says what is wrong
  // next to it.
  await pressButton(page, 'Envoyer ma demande');
  await audit(page, '03-erreurs');
  const errors = await page.evaluate(() => ({
    summary: !!document.querySelector('.resume-erreurs[role="alert"]'),
    links: [...document.querySelectorAll('.resume-erreurs a')].map((a) => a.getAttribute('href')),
    invalid: [...document.querySelectorAll('[aria-invalid="true"]')].map((e) => e.id),
  }));
  report.errors = errors;
  if (!errors.summary) fail('no error summary with role=alert after sending the empty form');
  for (const f of ['adresse', 'code_postal', 'commune']) {
    if (!errors.links.includes(`#${f}`)) fail(`the summary has no link to #${f}`);
    if (!errors.invalid.includes(f)) fail(`#${f} is not marked aria-invalid`);
  }

  // Filled with the keyboard only: type, Space for a box, then send.
  await typeInto(page, 'adresse', "12 rue de l'Église");
  await typeInto(page, 'code_postal', '35000');
  await typeInto(page, 'commune', 'Rennes');
  await typeInto(page, 'taille_foyer', '3');
  if (await tabTo(page, 'prestation-aah')) await page.keyboard.press('Space');
  if (await tabTo(page, 'contact-courrier')) await page.keyboard.press('Space');
  await pressButton(page, 'Envoyer ma demande');
  await audit(page, '04-envoyee');
  if (!/\/mon-espace\/demandes\/DEM-/.test(page.url())) fail(`after sending, the page is ${page.url()}, not the application's page`);
  report.sent_to = page.url();

  // A second application while this one waits: refused, with a link to it.
  await page.goto(`${base}/mon-espace/demande`);
  const waiting = await page.evaluate(() => document.querySelector('h1').textContent);
  if (!/déjà une demande en cours/.test(waiting)) fail(`a second application is offered: ${waiting}`);
  const link = await page.evaluate(() => [...document.querySelectorAll('a')].some((a) => /\/mon-espace\/demandes\/DEM-/.test(a.getAttribute('href'))));
  if (!link) fail('no link to the application waiting');

  await page.goto(`${base}/mon-espace`);
  await audit(page, '05-mon-espace');
  await page.goto(`${base}/tarif-social/indicateurs`);
  await audit(page, '06-indicateurs');
} catch (e) {
  fail(`browser run failed: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.failures.length ? 1 : 0);
