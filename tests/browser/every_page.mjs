// Every page of every role, found by following the links a user sees: each
// user logs in through the form, then the pages are walked from its home
// page, link after link (same site, GET, pages only — no file, no API, no
// logout), one page of each shape (`/technicien/lignes/L-0001` and
// `/technicien/lignes/L-0002` are one shape), up to a bound. Each page is
// read at 1280 px and at 390 px (a phone): it must answer 200, not be wider
// than the screen, show no English word of the list below and no raw
// identifier (`quotient_familial`), and pass axe-core (no serious or
// critical violation). A screenshot of each page at each width is kept.
// The pages a plan names must be among those reached.
//
// The files a user is offered (PDF, CSV, exports…) are fetched as that
// user, one of each shape: each must answer 200 with a file, not a login
// page or a refusal; a PDF's text (poppler's pdftotext) must hold no
// English word of the list. The error pages a user may meet (a page that
// does not exist, a page of another role, a malformed address) are read
// like the others: in French, on the screen, with their status.
//
// Usage: node every_page.mjs BASE_URL PLAN_JSON ARTIFACT_DIR
// PLAN_JSON: [{ "username", "password", "home", "must": [path, ...],
//              "forbid": [path, ...], "errors": [[path, status], ...] }]
// — `forbid`: paths no page of that user may link to; `errors`: pages
// that must answer that status, as a French page.
// Prints one JSON report on stdout; exits 1 when a check fails.
import { launch, audit as auditWith, logIn, watchCsp } from './common.mjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const [base, planFile, artifacts] = process.argv.slice(2);
if (!base || !planFile || !artifacts) {
  console.error('usage: node every_page.mjs BASE_URL PLAN_JSON ARTIFACT_DIR');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
mkdirSync(artifacts, { recursive: true });
const report = { pages: [], visited: {}, failures: [] };
const fail = (msg) => report.failures.push(msg);

// Words a French page has no reason to show: states, modes and messages
// left in English, as found on the pages before (« suspended », « cash »,
// « form too large », « invalid Zip archive »…). Whole words, any case.
const ENGLISH = [
  'pending', 'suspended', 'terminated', 'cancelled', 'canceled', 'granted',
  'refused', 'rejected', 'submitted', 'decided', 'paid', 'unpaid', 'draft',
  'issued', 'overdue', 'cash', 'card', 'cheque', 'transfer', 'order',
  'activate', 'reserve', 'install', 'invalid', 'error', 'failed', 'could',
  'expected', 'missing', 'required', 'unknown', 'none', 'null', 'undefined',
  'true', 'false', 'the', 'and', 'with', 'from', 'not', 'found', 'forbidden',
  'unauthorized', 'too', 'large', 'login', 'logout', 'password', 'username',
  'download', 'upload', 'search', 'submit', 'save', 'delete', 'back', 'next',
  'previous', 'settings', 'account', 'invoice', 'invoices', 'payment',
  'payments', 'line', 'lines', 'status', 'state', 'serial', 'name',
  'online', 'offline', 'active', 'inactive', 'yes', 'no',
];
// « active » is a French word too: only the lower-case English state is
// looked for among the states a page lists (table cells, badges).
const FRENCH_TOO = new Set(['active', 'no', 'serial']);
const englishRe = new RegExp(`(^|[^\\p{L}_])(${ENGLISH.filter((w) => !FRENCH_TOO.has(w)).join('|')})(?=$|[^\\p{L}_])`, 'giu');
// An identifier of the code where a label belongs: snake_case words
// (GraceTHD's table and column names excepted: `t_suf`, `ad_code`).
const rawRe = /(^|[^\p{L}\d_])([a-z]+_[a-z_]+)(?=$|[^\p{L}\d_])/gu;
const TECHNICAL = /^(t_[a-z_]+|x_[a-z_]+|[a-z]{2}_[a-z_]+)$/;

// Links not followed: files, the API, logging out, pages that act.
const SKIP = /\.(pdf|csv|json|xml|zip|geojson|png|svg|txt|xlsx?)(\?|$)|^\/api\/|^\/metrics|^\/deconnexion|\/exports\/|^\/docs/;
const LIMIT = 60;
// Files fetched per user, one of each shape.
const FILE_LIMIT = 30;
const FILE = /\.(pdf|csv|json|xml|zip|geojson|txt|xlsx?)(\?|$)|\/exports\//;

/** The shape of a path: segments holding a digit become `*`; query keys kept. */
function shape(url) {
  const u = new URL(url);
  const path = u.pathname.split('/').map((s) => (/\d/.test(s) ? '*' : s)).join('/');
  const keys = [...u.searchParams.keys()].sort().join('&');
  return keys ? `${path}?${keys}` : path;
}

/** The English words of the list found in `text`. */
function englishIn(text) {
  const english = new Set();
  for (const m of text.matchAll(englishRe)) english.add(m[2].toLowerCase());
  return english;
}

/** A file's links: fetched as the user, answered 200 with a file; a PDF read. */
async function checkFile(page, url, where) {
  const response = await page.request.get(url, { maxRedirects: 0 });
  const type = response.headers()['content-type'] || '';
  if (response.status() !== 200 || type.startsWith('text/html')) {
    fail(`${where}: ${response.status()} ${type} instead of a file`);
    return;
  }
  if (!type.startsWith('application/pdf')) return;
  let text;
  try {
    text = execFileSync('pdftotext', ['-', '-'], { input: await response.body() }).toString('utf8');
  } catch (e) {
    if (e.code === 'ENOENT' && !process.env.REGIE_REQUIRE_PEERS) return;
    fail(`${where}: pdftotext: ${e.message}`);
    return;
  }
  if (!text.trim()) fail(`${where}: a PDF without text`);
  const english = englishIn(text);
  if (english.size) fail(`${where}: English in the PDF: ${[...english].join(', ')}`);
}

async function checkText(page, where) {
  const text = await page.evaluate(() => document.body.innerText);
  // What a page shows as code on purpose (a file name, a setting).
  const code = await page.evaluate(() => [...document.querySelectorAll('code, kbd, samp')].map((e) => e.innerText));
  // What is shown as code is not prose: a random key (« …2TOO7… ») may
  // hold letters that read as an English word.
  const prose = code.reduce((t, c) => (c ? t.split(c).join(' ') : t), text);
  const english = englishIn(prose);
  if (english.size) fail(`${where}: English on the page: ${[...english].join(', ')}`);
  const raw = new Set();
  for (const m of text.matchAll(rawRe)) {
    if (!TECHNICAL.test(m[2]) && !code.some((c) => c.includes(m[2]))) raw.add(m[2]);
  }
  if (raw.size) fail(`${where}: identifiers shown instead of labels: ${[...raw].join(', ')}`);
}

async function checkWidth(page, where, width) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > width + 1) {
    // Name the widest element sticking out, to find it.
    const culprit = await page.evaluate((w) => {
      let found = null;
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && (!found || r.width < found.width)) {
          found = { tag: el.tagName.toLowerCase(), cls: el.className, width: Math.round(r.width), right: Math.round(r.right) };
        }
      }
      return found;
    }, width);
    fail(`${where}: ${wide} px wide at ${width} px${culprit ? ` (${JSON.stringify(culprit)})` : ''}`);
  }
}

const browser = await launch();

try {
  for (const user of plan) {
    const page = await browser.context.newPage();
    watchCsp(page, report);
    await browser.context.clearCookies();
    await page.setViewportSize({ width: 1280, height: 900 });
    await logIn(page, base, user, plan.indexOf(user) === 0, report);

    const queue = [`${base}${user.home}`, ...(user.must || []).map((p) => `${base}${p}`)];
    const seen = new Set();
    const visited = [];
    const files = new Map();
    const from = new Map();
    while (queue.length && visited.length < LIMIT) {
      const url = queue.shift();
      const key = shape(url);
      if (seen.has(key)) continue;
      seen.add(key);
      const path = new URL(url).pathname + new URL(url).search;
      const name = `${user.username}${key.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}`;
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
        const response = await page.goto(url);
        const type = response ? response.headers()['content-type'] || '' : '';
        if (!type.startsWith('text/html')) {
          // A link to a file without a file's extension (`/factures/{n}`).
          if (!files.has(key)) files.set(key, { url, from: from.get(url) || user.home });
          break;
        }
        if (response.status() !== 200) {
          fail(`${user.username} ${path}: status ${response.status()}`);
          break;
        }
        const where = `${user.username} ${path} @${width}`;
        await checkWidth(page, where, width);
        await checkText(page, where);
        await auditWith(page, `${name}-${width}`, report, artifacts);
        if (width === 1280) {
          visited.push(path);
          const links = await page.evaluate(() => [...document.querySelectorAll('a[href]')].map((a) => a.href));
          for (const link of links) {
            const u = new URL(link, url);
            if (u.origin !== new URL(base).origin) continue;
            u.hash = '';
            if ((user.forbid || []).includes(u.pathname)) fail(`${user.username} ${path}: links to ${u.pathname}`);
            if (FILE.test(u.pathname + u.search) && !u.pathname.startsWith('/api/')
              && !files.has(shape(u.toString())) && files.size < FILE_LIMIT) {
              files.set(shape(u.toString()), { url: u.toString(), from: path });
            }
            if (SKIP.test(u.pathname + u.search) || SKIP.test(u.pathname)) continue;
            if (!from.has(u.toString())) from.set(u.toString(), path);
            queue.push(u.toString());
          }
        }
      }
    }
    report.visited[user.username] = visited;
    report.files = report.files || {};
    report.files[user.username] = [];
    for (const { url, from } of files.values()) {
      const file = new URL(url).pathname + new URL(url).search;
      report.files[user.username].push(file);
      await checkFile(page, url, `${user.username} ${file} (from ${from})`);
    }
    for (const [path, status] of user.errors || []) {
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
        const response = await page.goto(`${base}${path}`);
        const where = `${user.username} ${path} @${width}`;
        if (!response || response.status() !== status) {
          fail(`${where}: status ${response && response.status()}, not ${status}`);
          break;
        }
        if (!(response.headers()['content-type'] || '').startsWith('text/html')) {
          fail(`${where}: not a page`);
          break;
        }
        await checkWidth(page, where, width);
        await checkText(page, where);
        await auditWith(page, `${user.username}-erreur${path.replace(/[^a-z0-9]+/gi, '-')}-${width}`, report, artifacts);
      }
    }
    for (const must of user.must || []) {
      if (!visited.some((v) => v === must || v.split('?')[0] === must.split('?')[0])) {
        fail(`${user.username}: ${must} not reached`);
      }
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
