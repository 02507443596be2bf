// The console in real headless Chromium: every "must show" of issue 11, with axe-core on
// every page visited. Run by scripts/browser-tests, which starts `herald serve` and sets
// HERALD_URL and HERALD_TOKEN (an owner token).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const BASE = process.env.HERALD_URL;
const TOKEN = process.env.HERALD_TOKEN;
const SECRET = "whsec_QnJvd3NlclRlc3RTZWNyZXRWYWx1ZTAxMjM0NTY3";
const PASSWORD = "correct horse battery staple";
const SHOTS = new URL("../../docs/screenshots/", import.meta.url);

let browser, context, page, receiver, receiverUrl;
let answer = 204; // what the webhook receiver answers; tests flip it to 500
const received = [];
const pagesSeen = []; // [url, html] of every page visited, for the secret check
const cspViolations = [];

async function api(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(!text.includes(SECRET), `${method} ${path} returned the secret`);
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** Runs axe-core on the current page: no serious or critical violations. */
async function checkAccessibility(label) {
  // page.evaluate is not subject to the page's CSP, which forbids inline scripts.
  await page.evaluate(AXE);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe on ${label}`,
  );
}

/** Goes to a path (or waits for a navigation already made), records it, checks axe. */
async function visit(path, label = path) {
  if (path) await page.goto(BASE + path);
  await page.waitForLoadState("domcontentloaded");
  pagesSeen.push([page.url(), await page.content()]);
  await checkAccessibility(label);
}

async function shot(name) {
  await page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: false });
}

/** Reloads until the predicate holds on the page (the worker runs in the background). */
async function reloadUntil(predicate, what) {
  for (let i = 0; i < 60; i++) {
    if (await predicate()) return;
    await page.waitForTimeout(250);
    await page.reload();
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url, headers: req.headers, body });
      const headers = { "content-type": "text/plain" };
      if (answer === 503) headers["retry-after"] = "3600"; // waits an hour: only Retry now sends it (a 429 would pause the whole destination)
      res.writeHead(answer, headers);
      res.end(answer >= 400 ? "receiver is down" : "");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) cspViolations.push(m.text());
  });
});

after(async () => {
  await browser?.close();
  receiver?.close();
});

let integrationPath;

test("signing in with a token", async () => {
  await page.goto(BASE + "/");
  assert.match(page.url(), /\/sign-in\?next=/);
  await visit(null, "sign-in");
  await shot("sign-in");
  await page.fill("#token", "not-a-token-at-all");
  await page.click("text=Sign in with token");
  await page.waitForSelector(".alert");
  assert.match(await page.textContent(".alert"), /not valid/);
  await page.fill("#token", TOKEN);
  await page.click("text=Sign in with token");
  await page.waitForURL(BASE + "/");
  await visit(null, "dashboard");
  assert.ok(!(await page.content()).includes(TOKEN), "the token is not shown");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "herald_session");
  assert.ok(session?.httpOnly && session.sameSite === "Lax", JSON.stringify(session));
});

test("creating a webhook through the generated form, with a field error first", async () => {
  await visit("/integrations/new", "kind picker");
  await page.click("a[href='/integrations/new?kind=webhook']");
  await visit(null, "webhook form");
  await page.fill("#name", "Local receiver");
  await page.fill("#events", "scan_done\nfinding_new");
  await page.fill("[id='config.webhook_url']", "not a url");
  await page.fill("[id='config.hmac_secret']", SECRET);
  await page.click("button:has-text('Add integration')");
  const error = page.locator("[id='config.webhook_url-error']");
  await error.waitFor();
  assert.match(await error.textContent(), /url|URL/);
  assert.equal(await page.getAttribute("[id='config.webhook_url']", "aria-invalid"), "true");
  assert.equal(await page.inputValue("[id='config.hmac_secret']"), "", "a refused secret is not refilled");
  await visit(null, "form with a field error");
  await shot("integration-form");
  await page.fill("[id='config.webhook_url']", `${receiverUrl}/hook`);
  await page.fill("[id='config.hmac_secret']", SECRET);
  await page.click("button:has-text('Add integration')");
  await page.waitForURL(/\/integrations\/[^/]+$/);
  integrationPath = new URL(page.url()).pathname;
  await visit(null, "integration page");
  assert.match(await page.textContent("h1"), /Local receiver/);
});

test("Test shows {ok, status, response}", async () => {
  const before = received.length;
  await page.click("button:has-text('Test')");
  await page.waitForSelector("#test-result");
  const result = await page.textContent("#test-result");
  assert.match(result, /"ok": true/);
  assert.match(result, /"status": 204/);
  assert.ok(received.length > before, "the receiver got the test request");
  await visit(null, "test result");
  await shot("integration");
});

test("an emitted event's delivery appears with its attempts", async () => {
  const { status, json } = await api("POST", "/v1/events", { type: "scan_done", title: "Scan finished", target_id: "repo-1" });
  assert.equal(status, 202);
  await visit(`/deliveries?event_id=${json.id}`, "delivery log");
  await reloadUntil(async () => (await page.locator("td .status-success").count()) > 0, "the delivery to succeed");
  await visit(null, "delivery log with a success");
  await shot("deliveries");
  await page.click("td a:has(.status)");
  await visit(null, "delivery");
  assert.match(await page.textContent(".timeline"), /#1/);
  assert.match(await page.textContent(".timeline"), /HTTP 204/);
  const signed = received.find((r) => r.body.includes("Scan finished"));
  assert.ok(signed?.headers["webhook-signature"], "the delivery was signed with the secret");
  await visit("/events?type=scan_done", "events");
  assert.match(await page.textContent("table"), /Scan finished/);
  await page.click(`a[href='/events/${json.id}']`);
  await visit(null, "event");
  assert.match(await page.textContent("main"), /Local receiver/);
});

test("a failed delivery is retried from its page", async () => {
  answer = 500;
  const { json } = await api("POST", "/v1/events", { type: "finding_new", severity: "high", title: "SQL injection" });
  await visit(`/deliveries?event_id=${json.id}`, "delivery log");
  await reloadUntil(async () => (await page.locator("td .status-failed").count()) > 0, "the delivery to fail");
  await page.click("td a:has(.status)");
  await page.waitForSelector("button:has-text('Retry')");
  assert.match(await page.textContent(".timeline"), /HTTP 500/);
  await visit(null, "failed delivery");
  await shot("delivery");
  answer = 204;
  await page.click("button:has-text('Retry')");
  await reloadUntil(async () => (await page.locator("h1 .status-success").count()) > 0, "the retried delivery to succeed");
  await visit(null, "retried delivery");
  assert.match(await page.textContent(".timeline"), /HTTP 204/);
});

test("the delivery log filters by event type and time range", async () => {
  await visit("/deliveries", "delivery log");
  await page.fill("#f-type", "finding_new");
  await page.click("form.filters button:has-text('Filter')");
  await visit(null, "delivery log by event type");
  assert.match(await page.textContent("main"), /SQL injection/);
  assert.equal(await page.inputValue("#f-type"), "finding_new");
  await page.fill("#f-type", "");
  await page.fill("#f-since", "2999-01-01T00:00");
  await page.click("form.filters button:has-text('Filter')");
  await visit(null, "delivery log in the future");
  assert.match(await page.textContent("main"), /No deliveries match/);
});

test("a delivery waiting between retries is sent at once with Retry now", async () => {
  answer = 503;
  const { json } = await api("POST", "/v1/events", { type: "finding_new", severity: "low", title: "Slow down" });
  await visit(`/deliveries?event_id=${json.id}`, "delivery log");
  await reloadUntil(async () => (await page.locator("td .status-retrying").count()) > 0, "the delivery to wait");
  await page.click("td a:has(.status)");
  await visit(null, "waiting delivery");
  answer = 204;
  await page.click("button:has-text('Retry now')");
  await reloadUntil(async () => (await page.locator("h1 .status-success").count()) > 0, "the delivery to be sent now");
  await visit(null, "sent delivery");
  assert.match(await page.textContent(".timeline"), /HTTP 204/);
});

test("attaching to a workspace with a channel override changes the routing explanation", async () => {
  const explain = "/routing?type=iac.run.applied&target_id=web";
  const verdict = async () => (await page.textContent("#verdicts tbody tr:has-text('Local receiver') .verdict")).trim();
  await visit(explain, "routing explained");
  assert.equal(await verdict(), "skip");
  await page.goto(BASE + integrationPath);
  await page.fill("#module", "web");
  await page.selectOption("#run_after", "apply");
  await page.fill("#destinations", `${receiverUrl}/web-hook`);
  await page.click("button:has-text('Attach')");
  await page.waitForSelector("a[href='/workspaces/web']");
  await visit(null, "integration with an attachment");
  assert.match(await page.textContent("#routing ~ .table-wrap, section[aria-labelledby='routing']"), /web-hook/);
  await visit("/workspaces/web", "workspace");
  assert.match(await page.textContent("table"), /Local receiver/);
  assert.match(await page.textContent("table"), /web-hook/);
  await visit(explain, "routing explained after attaching");
  assert.equal(await verdict(), "deliver");
  await shot("routing");
});

test("the dashboard and the integrations list", async () => {
  await visit("/", "dashboard");
  assert.ok((await page.locator("svg rect.bar").count()) > 0, "the chart has bars");
  await shot("dashboard");
  await visit("/integrations", "integrations");
  assert.match(await page.textContent("table"), /Local receiver/);
  await page.selectOption("#f-kind", "slack");
  await page.waitForURL(/kind=slack/);
  assert.match(await page.textContent("main"), /No integrations match/);
  await visit("/integrations", "integrations");
  await shot("integrations");
  await page.setViewportSize({ width: 390, height: 844 });
  await visit("/integrations", "integrations on a phone");
  await shot("integrations-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
});

test("the secret never appears in a page, its source or an API response", async () => {
  await visit(integrationPath + "/edit", "edit form");
  assert.match(await page.textContent("main form"), /Stored encrypted/);
  assert.equal(await page.inputValue("[id='config.hmac_secret']"), "");
  const id = integrationPath.split("/").pop();
  for (const path of ["/v1/integrations", `/v1/integrations/${id}`, "/v1/deliveries", "/openapi.json", "/v1/audit"]) {
    await api("GET", path);
  }
  for (const [url, html] of pagesSeen) {
    assert.ok(!html.includes(SECRET), `${url} shows the secret`);
  }
  for (const url of new Set(pagesSeen.map(([u]) => u))) {
    const source = await (await page.request.get(url)).text();
    assert.ok(!source.includes(SECRET), `the source of ${url} holds the secret`);
  }
});

test("a form post without its CSRF token is refused", async () => {
  const forged = await page.request.post(BASE + "/integrations/new", {
    form: { kind: "webhook", name: "forged", "config.webhook_url": `${receiverUrl}/x` },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  const { json } = await api("GET", "/v1/integrations?name=forged");
  assert.deepEqual(json.data, []);
});

test("the event catalogue registers a type with a schema, then deletes it", async () => {
  await visit("/catalogue", "event catalogue");
  await page.fill("#type-id", "acme.deploy.finished");
  await page.fill("#type-description", "A deploy finished");
  await page.fill("#type-schema", "{not json");
  await page.click("button:has-text('Register')");
  await visit(null, "catalogue with a field error");
  assert.match(await page.textContent("#type-schema-error"), /not JSON/);
  await page.fill("#type-schema", '{"type": "object", "required": ["version"]}');
  await page.click("button:has-text('Register')");
  await visit(null, "catalogue after registering");
  assert.match(await page.textContent("#event-types"), /A deploy finished/);
  await shot("catalogue");
  page.once("dialog", (d) => d.accept());
  await page.click("#event-types tr:has-text('acme.deploy.finished') button:has-text('Delete')");
  await page.waitForLoadState("domcontentloaded");
  assert.doesNotMatch(await page.textContent("#event-types"), /acme\.deploy\.finished/);
});

test("access: a principal, a group member, a role, a token shown once and the audit log", async () => {
  await visit("/access", "access");
  await page.selectOption("#principal-kind", "service_principal");
  await page.fill("#principal-name", "deploy-bot");
  await page.click("button:has-text('Create principal')");
  await visit(null, "access after creating a principal");
  await page.selectOption("#principal-kind", "group");
  await page.fill("#principal-name", "platform");
  await page.click("button:has-text('Create principal')");
  await page.waitForLoadState("domcontentloaded");
  await page.click("#principals a:has-text('platform')");
  await visit(null, "group");
  await page.selectOption("#member", { label: "deploy-bot (service principal)" });
  await page.click("button:has-text('Add')");
  await page.waitForLoadState("domcontentloaded");
  assert.match(await page.textContent("#members"), /deploy-bot/);
  await visit("/access", "access");
  await page.selectOption("#grant-principal", { label: "platform (group)" });
  await page.selectOption("#grant-role", "EventPublisher");
  await page.click("button:has-text('Grant')");
  await page.waitForLoadState("domcontentloaded");
  assert.match(await page.textContent("#assignments"), /platform\s*EventPublisher/);
  await page.fill("#token-name", "deploy pipeline");
  await page.selectOption("#token-principal", { label: "deploy-bot (service principal)" });
  await page.click("button:has-text('Create token')");
  await visit(null, "access with a new token");
  const value = await page.inputValue("#new-token-value");
  const me = await fetch(BASE + "/v1/me", { headers: { authorization: `Bearer ${value}` } });
  assert.equal(me.status, 200, "the value shown is a working token");
  await shot("access");
  await visit("/access", "access again");
  assert.ok(!(await page.content()).includes(value), "the token value is shown once");
  page.once("dialog", (d) => d.accept());
  await page.click("#tokens tr:has-text('deploy pipeline') button:has-text('Revoke')");
  await page.waitForLoadState("domcontentloaded");
  assert.match(await page.textContent("#tokens tr:has-text('deploy pipeline')"), /revoked/);
  await page.click("a:has-text('Audit log')");
  await visit(null, "audit log");
  assert.match(await page.textContent("#audit tbody tr:first-child"), /token\.revoke/);
});

test("an owner sets a password; the user signs in with it and signs out", async () => {
  await visit("/users", "users");
  const row = page.locator("tr:has-text('admin')");
  await row.locator("input[type=password]").fill(PASSWORD);
  await row.locator("button:has-text('Set password')").click();
  await page.waitForSelector(".notice");
  assert.match(await page.textContent(".notice"), /password of admin is set/);
  await visit(null, "users after setting a password");
  // This session was opened with a token, so it stays; sign out and back in as the user.
  await page.click("button:has-text('Sign out')");
  await page.waitForURL(/\/sign-in/);
  await page.fill("#user", "admin");
  await page.fill("#password", "wrong password");
  await page.click("button:has-text('Sign in'):not(:has-text('token'))");
  await page.waitForSelector(".alert");
  await page.fill("#password", PASSWORD);
  await page.click("button:has-text('Sign in'):not(:has-text('token'))");
  await page.waitForURL(BASE + "/");
  assert.match(await page.textContent(".who"), /admin/);
  await page.click("button:has-text('Sign out')");
  await page.waitForURL(/\/sign-in/);
  await page.goto(BASE + "/integrations");
  assert.match(page.url(), /\/sign-in/, "signed out");
  assert.deepEqual(cspViolations, [], "no CSP violations");
});
