// The accountant's day in a real browser, at 1280 and at 390 px wide:
// log in, find an account by name, open it, book a cash payment at the
// counter, open the receipt from the page's link, and download the FEC
// from the arrears page — with the page session only. axe-core checks
// every page met; no serious or critical violation is allowed.
//
// Usage: node accountant_day.mjs BASE_URL USERNAME PASSWORD NAME ARTIFACT_DIR
// Prints one JSON report on stdout; exits 1 when a check fails.
import { launch, audit as auditWith, watchCsp } from './common.mjs';
import { mkdirSync } from 'node:fs';

const [base, username, password, name, artifacts] = process.argv.slice(2);
if (!base || !username || !password || !name || !artifacts) {
  console.error('usage: node accountant_day.mjs BASE_URL USERNAME PASSWORD NAME ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const report = { pages: [], failures: [], downloads: [] };
const fail = (msg) => report.failures.push(msg);

const browser = await launch();
const context = browser.context;

async function day(width) {
  const page = await context.newPage();
  watchCsp(page, report);
  await page.setViewportSize({ width, height: 900 });
  const audit = (p, step) => auditWith(p, `${width}-${step}`, report, artifacts);
  // Log in (the second run finds the session of the first).
  await page.goto(`${base}/connexion`);
  if (await page.locator('#identifiant').count()) {
    await page.fill('#identifiant', username);
    await page.fill('#mot_de_passe', password);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  }

  // Find the account by a part of its name, from the navigation.
  await Promise.all([page.waitForNavigation(), page.click('nav a[href="/comptabilite/comptes"]')]);
  await page.fill('#q', name.slice(0, 5).toLowerCase());
  await Promise.all([page.waitForNavigation(), page.click('form[role=search] button')]);
  await audit(page, '01-recherche');
  const link = page.locator('table a', { hasText: /^CPT-/ }).first();
  if (await link.count() === 0) { fail(`no account found for « ${name} »`); await page.close(); return; }
  await Promise.all([page.waitForNavigation(), link.click()]);
  await audit(page, '02-compte');

  // A cash payment at the counter; the answer links the receipt.
  await page.selectOption('#mode', 'cash');
  await page.fill('#montant', '5,00');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Enregistrer le paiement")')]);
  const notice = await page.locator('.succes').textContent().catch(() => null);
  if (!notice || !notice.includes('enregistré')) fail(`${width}: no notice after the payment: ${notice}`);
  await audit(page, '03-paiement');
  const receipt = page.locator('a', { hasText: 'Imprimer le reçu' }).first();
  const href = await receipt.getAttribute('href');
  const answer = await page.request.get(`${base}${href}`);
  const type = answer.headers()['content-type'];
  if (answer.status() !== 200 || type !== 'application/pdf') fail(`${width}: receipt ${href} answered ${answer.status()} ${type}`);
  report.downloads.push({ width, what: 'receipt', href, status: answer.status(), type });

  // The FEC from the arrears page's link, with the session.
  await Promise.all([page.waitForNavigation(), page.click('nav a[href="/comptabilite/impayes"]')]);
  await audit(page, '04-impayes');
  const fec = page.locator('a', { hasText: 'FEC' }).first();
  const [download] = await Promise.all([page.waitForEvent('download'), fec.click()]);
  const file = download.suggestedFilename();
  if (!/^\d{9}FEC\d{8}\.txt$/.test(file)) fail(`${width}: FEC file named ${file}`);
  report.downloads.push({ width, what: 'fec', file });

  // Nothing wider than the screen on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  if (overflow && width < 500) fail(`${width}: the arrears page scrolls sideways`);
  await page.close();
}

try {
  await day(1280);
  await day(390);
} catch (e) {
  fail(`stopped: ${e.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.failures.length ? 1 : 0);
