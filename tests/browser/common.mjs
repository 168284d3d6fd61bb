// What the browser scripts share: Chromium started headless on a fresh
// profile, and the axe-core audit with its screenshot.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// Evaluated through the DevTools protocol, which the pages'
// Content-Security-Policy (no script at all) does not block.
const axeSource = readFileSync(axePath, 'utf8');

/**
 * Records in `report.failures` every message of the browser saying that
 * the Content-Security-Policy refused something the page asked for: a page
 * that breaks under its own policy.
 */
export function watchCsp(page, report) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) report.failures.push(`CSP on ${page.url()}: ${text}`);
  });
}

/** Debian's Chromium, headless, on a profile of its own; `close()` removes it. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'regie-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    locale: 'fr-FR',
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Runs axe-core on the page and keeps a full-page screenshot as
 * ARTIFACTS/NAME.png; records the page in `report.pages` and each serious
 * or critical violation in `report.failures`.
 */
export async function audit(page, name, report, artifacts) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  report.pages.push({ name, url: page.url(), violations: result });
  for (const v of result.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
    report.failures.push(`${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(', ')}`);
  }
  // The whole page, but no taller than three screens: a long journal
  // would make images of megabytes.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const width = page.viewportSize().width;
  await page.screenshot({
    path: join(artifacts, `${name}.png`),
    fullPage: true,
    clip: { x: 0, y: 0, width, height: Math.min(height, 2700) },
  });
}

/**
 * Logs `user` in through the form, the first one (`hostile`) through a
 * link built to send it elsewhere after login; records in
 * `report.failures` a landing on another site or on another page than the
 * user's home.
 */
export async function logIn(page, base, user, hostile, report) {
  await page.goto(hostile ? `${base}/connexion?suite=/%09/evil.example/phish` : `${base}/connexion`);
  await page.fill('#identifiant', user.username);
  await page.fill('#mot_de_passe', user.password);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  if (new URL(page.url()).origin !== new URL(base).origin) {
    report.failures.push(`${user.username}: sent to another site after login: ${page.url()}`);
  }
  const landed = new URL(page.url()).pathname;
  if (landed !== user.home) report.failures.push(`${user.username}: landed on ${landed}, not ${user.home}`);
}
