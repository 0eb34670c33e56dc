// browser.mjs opens the /docs page of a running server in headless Debian chromium and checks
// that it renders: the endpoint list appears, POST /api/single/enrich/stream is listed, and
// expanding it shows an example request body. It fails on any console error, page error,
// request to a non-loopback host, or failed request, and writes a screenshot.
//
// Usage: node browser.mjs <base URL> <admin key> <screenshot path>
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, key, shot] = process.argv.slice(2);
if (!base || !key || !shot) {
  console.error("usage: node browser.mjs <base URL> <admin key> <screenshot path>");
  process.exit(2);
}

const loopback = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const problems = [];
const profile = mkdtempSync(join(tmpdir(), "enricher-docs-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 1800 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    const u = new URL(r.url());
    if ((u.protocol === "http:" || u.protocol === "https:") && !loopback.has(u.hostname)) {
      problems.push(`request to a non-loopback host: ${r.url()}`);
    }
  });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

  const res = await page.goto(`${base}/docs?token=${encodeURIComponent(key)}`, { waitUntil: "load" });
  if (res.status() !== 200) throw new Error(`/docs answered ${res.status()}`);

  await page.locator(".opblock").first().waitFor({ state: "visible", timeout: 30000 });
  const count = await page.locator(".opblock").count();
  if (count < 50) throw new Error(`only ${count} operations rendered`);
  if (new URL(page.url()).searchParams.has("token")) throw new Error("the token stayed in the address bar");

  const listShot = shot.replace(/(\.png)?$/, "-list.png");
  await page.screenshot({ path: listShot });
  console.log(`screenshot of the endpoint list: ${listShot}`);

  const op = page.locator("#operations-enrichment-enrichStream");
  await op.waitFor({ state: "visible" });
  const summary = op.locator(".opblock-summary");
  const label = (await summary.innerText()).replace(/\s+/g, " ");
  if (!label.includes("POST") || !label.includes("/api/single/enrich/stream")) {
    throw new Error(`unexpected operation summary: ${label}`);
  }
  await op.locator(".opblock-summary-control").click();
  const body = op.locator(".opblock-section-request-body");
  await body.waitFor({ state: "visible", timeout: 10000 });
  await body.locator("text=entity_data").first().waitFor({ state: "visible", timeout: 10000 });
  const example = await body.innerText();
  if (!example.includes("Moderna Inc") || !example.includes("models")) {
    throw new Error(`request body example missing: ${example.slice(0, 300)}`);
  }
  await op.scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot });
  console.log(`docs page: ${count} operations rendered; POST /api/single/enrich/stream shows its example body`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`screenshot: ${shot}`);
