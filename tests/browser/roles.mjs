// Every role's journey through the demo, in a real browser: each user logs
// in through the form, lands on its home page, then opens the pages of its
// work (the technician's trace and line pages and the alarms, the
// accountant's billing run, …). axe-core checks each page; no serious or
// critical violation is allowed. A screenshot of each page is kept: the
// README's walkthrough shows them. The first user logs in through a link
// built to send it elsewhere after login (`suite=/%09/evil.example/…`): it
// must land on this site.
//
// Usage: node roles.mjs BASE_URL PLAN_JSON ARTIFACT_DIR
// PLAN_JSON: [{ "username", "password", "home", "pages": [[name, path, text]] }]
// where `text` must appear on the page. Prints one JSON report on stdout;
// exits 1 when a check fails.
import { launch, audit as auditWith, logIn, watchCsp } from './common.mjs';
import { mkdirSync, readFileSync } from 'node:fs';

const [base, planFile, artifacts] = process.argv.slice(2);
if (!base || !planFile || !artifacts) {
  console.error('usage: node roles.mjs BASE_URL PLAN_JSON ARTIFACT_DIR');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
mkdirSync(artifacts, { recursive: true });
const report = { pages: [], failures: [] };
const fail = (msg) => report.failures.push(msg);

const browser = await launch();

const audit = (page, name) => auditWith(page, name, report, artifacts);

try {
  for (const user of plan) {
    const page = await browser.context.newPage();
    watchCsp(page, report);
    await browser.context.clearCookies();
    await logIn(page, base, user, plan.indexOf(user) === 0, report);
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
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.failures.length ? 1 : 0);
