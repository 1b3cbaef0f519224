// A real browser for the dashboard's tests: Debian's headless Chromium driven by
// playwright-core, each test in a fresh profile. Without the browser the tests skip with
// the reason, unless WEIR_REQUIRE_SERVICES=1 makes that an error (as in CI).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { required } from '../helpers/services.js';

export const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** false when Chromium is there; the printed reason when it is not (and not required). */
export function needChromium(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const reason = `${CHROMIUM} is missing`;
  if (required) throw new Error(`Chromium is required (WEIR_REQUIRE_SERVICES=1) but ${reason}`);
  const message = `dashboard browser tests skipped: ${reason}. Install it (apt-get install chromium), or run with WEIR_REQUIRE_SERVICES=1 to make this an error.`;
  console.log(`# ${message}`);
  return message;
}

export interface Browser {
  context: BrowserContext;
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium on a fresh profile; `initScript` runs in every page before its own. */
export async function launch(initScript?: string): Promise<Browser> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  if (initScript !== undefined) await context.addInitScript(initScript);
  const errors: string[] = [];
  const first = context.pages()[0];
  return {
    context,
    async open(url) {
      const page =
        first !== undefined && first.url() === 'about:blank' ? first : await context.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/ERR_CONNECTION_REFUSED|net::ERR|503/.test(m.text())) {
          errors.push(m.text());
        }
      });
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`);
    },
  };
}

// Polled with evaluate (the DevTools protocol), not waitForFunction, which compiles its
// predicate in the page and so would break the page's own CSP (no eval).
async function poll(page: Page, expression: string, what: string, boundMs = 20_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the page shows the snapshot with this id, or a later one. */
export function shows(page: Page, id: number): Promise<void> {
  return poll(page, `Number(document.body.dataset.snapshot) >= ${id}`, `snapshot ${id}`);
}

/** Waits until the page's connection state is `status`. */
export function status(page: Page, s: string): Promise<void> {
  return poll(page, `document.body.dataset.status === ${JSON.stringify(s)}`, `status ${s}`);
}

/** The text of a field of a pool's card. */
export function poolField(page: Page, pool: string, field: string): Promise<string | null> {
  return page.textContent(`[data-pool="${pool}"] [data-field="${field}"]`);
}
