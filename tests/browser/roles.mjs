// Every role's journey through the demo, in a real browser: each user logs
// in through the form, lands on its home page, then opens the pages of its
// work (the technician's trace and line pages and the alarms, the
// accountant's billing run, …). axe-core checks each page; no serious or
// critical violation is allowed. A screenshot of each page is kept: the
// README's walkthrough shows them.
//
// Usage: node roles.mjs BASE_URL PLAN_JSON ARTIFACT_DIR
// PLAN_JSON: [{ "username", "password", "home", "pages": [[name, path, text]] }]
// where `text` must appear on the page. Prints one JSON report on stdout;
// exits 1 when a check fails.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, planFile, artifacts] = process.argv.slice(2);
if (!base || !planFile || !artifacts) {
  console.error('usage: node roles.mjs BASE_URL PLAN_JSON ARTIFACT_DIR');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
mkdirSync(artifacts, { recursive: true });
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const report = { pages: [], failures: [] };
const fail = (msg) => report.failures.push(msg);

const profile = mkdtempSync(join(tmpdir(), 'regie-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  locale: 'fr-FR',
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** Runs axe-core on the page, keeps a screenshot; records serious and critical violations. */
async function audit(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  report.pages.push({ name, url: page.url(), violations: result });
  for (const v of result.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
    fail(`${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(', ')}`);
  }
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

try {
  for (const user of plan) {
    const page = await browser.newPage();
    await browser.clearCookies();
    await page.goto(`${base}/connexion`);
    await page.fill('#identifiant', user.username);
    await page.fill('#mot_de_passe', user.password);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    const landed = new URL(page.url()).pathname;
    if (landed !== user.home) fail(`${user.username}: landed on ${landed}, not ${user.home}`);
    await audit(page, `${user.username}-accueil`);
    for (const [name, path, text] of user.pages) {
      const response = await page.goto(`${base}${path}`);
      if (!response || response.status() !== 200) {
        fail(`${user.username} ${path}: status ${response && response.status()}`);
      }
      const body = await page.textContent('body');
      if (text && !body.includes(text)) fail(`${user.username} ${path}: « ${text} » not on the page`);
      await audit(page, `${user.username}-${name}`);
    }
    await page.close();
  }
} catch (e) {
  fail(`browser run failed: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.failures.length ? 1 : 0);
