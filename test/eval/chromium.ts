/**
 * Opens a report's index.html from disk in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core, a fresh profile) and checks that it loads without a console error, a page error
 * or a failed request, and that every table, plot and image grid is there and has loaded.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../chromium.js';

export { CHROMIUM };

/** The tables of a full report and the plots of a full demo. */
export const REPORT_TABLES = ['models', 'alignment', 'table3', 'panels', 'reward-accuracy', 'size-ablation'];
export const REPORT_PLOTS = [
  'panel_finetuned_vs_original.svg',
  'panel_rejection16to4_vs_original.svg',
  'panel_finetuned_vs_rejection16to4.svg',
  'reward_accuracy.svg',
  'size_ablation.svg',
  'curves_reward.svg',
  'curves_finetune.svg',
];

export interface ReportPage {
  /** rows of each table's body, by table id */
  tableRows: Record<string, number>;
  /** plot file -> natural width of the loaded SVG */
  plots: Record<string, number>;
  /** prompts of the loaded grids, in page order */
  grids: string[];
  title: string;
}

/** Loads `<reportDir>/index.html` and returns what the page shows; asserts a clean load. */
export async function openReport(reportDir: string): Promise<ReportPage> {
  const profile = mkdtempSync(join(tmpdir(), 't2i-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    await page.goto(pathToFileURL(resolve(reportDir, 'index.html')).href, { waitUntil: 'load' });
    const shown = await page.evaluate(() => {
      const tableRows: Record<string, number> = {};
      for (const t of document.querySelectorAll('table'))
        tableRows[t.id] = t.querySelectorAll('tbody tr').length;
      const plots: Record<string, number> = {};
      for (const img of document.querySelectorAll<HTMLImageElement>('img[data-plot]'))
        plots[img.dataset['plot']!] = img.complete ? img.naturalWidth : 0;
      const grids = [...document.querySelectorAll<HTMLElement>('figure.grid')]
        .filter((f) => {
          const img = f.querySelector('img');
          return img?.complete && img.naturalWidth > 0;
        })
        .map((f) => f.dataset['prompt']!);
      const link = document.querySelector<HTMLAnchorElement>('#metrics-link')?.getAttribute('href') ?? '';
      return { tableRows, plots, grids, link, title: document.title };
    });
    assert.deepEqual(problems, [], 'the report loads cleanly');
    assert.equal(shown.link, 'metrics.json');
    assert.ok(existsSync(join(reportDir, shown.link)), 'metrics.json sits beside index.html');
    return { tableRows: shown.tableRows, plots: shown.plots, grids: shown.grids, title: shown.title };
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
