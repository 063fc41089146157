// Open HTML files in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// and report what a reader would meet: axe-core's WCAG 2.2 AA violations at each width, whether
// the page scrolls sideways, and, when asked, the page printed to an A4 PDF.
//
//   node tests/browser/check.mjs job.json     (prints one JSON object on stdout)
//
// job.json: {"chromium": "/usr/bin/chromium", "pages": [{"path": "/abs/pack.html",
//   "widths": [1400, 320], "pdf": "/abs/pack.pdf", "front_pdf": "/abs/front.pdf",
//   "screenshots": {"320": "/abs/phone.png"}}]}
// The tests in tests/test_accessibility.py write the job and read the answer.
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
// What the pack hides on paper after its front matter: the outcome areas and the back pages.
const FRONT_ONLY = "section.area, section.area ~ *, .back { display: none !important; }";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const profile = mkdtempSync(join(tmpdir(), "pmbot-chromium-"));
const browser = await chromium.launch({
  executablePath: job.chromium || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});
const results = [];
try {
  for (const spec of job.pages) {
    const url = "file://" + spec.path;
    for (const width of spec.widths || []) {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      const layout = await page.evaluate(() => ({
        scroll_width: document.documentElement.scrollWidth,
        viewport_width: document.documentElement.clientWidth,
        height: document.documentElement.scrollHeight,
        // Elements sticking out past the right edge: what makes a page scroll sideways.
        wide: [...document.body.querySelectorAll("*")]
          .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                          && !e.closest("[data-scroll]"))
          .slice(0, 10).map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")),
      }));
      await page.addScriptTag({ content: AXE });
      const axe = await page.evaluate(async (tags) => {
        const r = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
        return r.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")), count: v.nodes.length,
        }));
      }, TAGS);
      const shot = (spec.screenshots || {})[String(width)];
      if (shot) await page.screenshot({ path: shot, fullPage: false });
      results.push({ path: spec.path, width, violations: axe, ...layout });
      await context.close();
    }
    if (spec.pdf || spec.front_pdf || spec.print_screenshot) {
      const context = await browser.newContext({ viewport: { width: 794, height: 1123 } });
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "load" });
      await page.emulateMedia({ media: "print" });
      // What a printed page would cut off: wider than the A4 text column (186 mm), or a box
      // that scrolls (paper cannot). Laid out at the column's width, as the printer does.
      const column = Math.floor((186 / 25.4) * 96);
      await page.setViewportSize({ width: column, height: 1000 });
      const clipped = await page.evaluate((column) =>
        [...document.body.querySelectorAll("*")]
          .filter((e) => e.getBoundingClientRect().right > column + 1
                         || (e.clientWidth > 1 && e.scrollWidth > e.clientWidth + 1
                             && getComputedStyle(e).overflowX !== "visible"))
          .slice(0, 10).map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")), column);
      const printed = { path: spec.path, print: true, clipped };
      if (spec.pdf) {
        await page.pdf({ path: spec.pdf, format: "A4", preferCSSPageSize: true, printBackground: true });
      }
      if (spec.print_screenshot) await page.screenshot({ path: spec.print_screenshot });
      if (spec.front_pdf) {
        await page.addStyleTag({ content: FRONT_ONLY });
        await page.pdf({ path: spec.front_pdf, format: "A4", preferCSSPageSize: true, printBackground: true });
      }
      results.push(printed);
      await context.close();
    }
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ results }));
