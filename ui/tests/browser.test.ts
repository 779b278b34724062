// The UI in Debian's chromium (playwright-core, no browser download) against the real
// server on the seeded demo graph. Screenshots go to target/ui-screenshots/.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Server, startServer } from "./server";

const SHOTS = resolve(process.env.UI_SCREENSHOTS ?? "../target/ui-screenshots");
let server: Server;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.stop();
});

/** A page signed in as `token` (pasted into session storage, as a person would). */
async function pageAs(token: string | null): Promise<{ page: Page; graphql: string[]; foreign: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const graphql: string[] = [];
  const foreign: string[] = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.origin !== server.base && !url.protocol.startsWith("data")) foreign.push(req.url());
    if (url.pathname === "/graphql" && req.method() === "POST") {
      graphql.push(JSON.parse(req.postData() ?? "{}").operationName ?? "?");
    }
  });
  if (token) {
    await page.goto(`${server.base}/models`);
    await page.evaluate((t) => sessionStorage.setItem("modelgraph.token", t), token);
  }
  return { page, graphql, foreign };
}

async function nodeIds(page: Page): Promise<Set<string>> {
  await page.waitForSelector("[data-node-id]");
  const ids = await page.$$eval("[data-node-id]", (els) => els.map((e) => e.getAttribute("data-node-id") ?? ""));
  return new Set(ids);
}

const WALK = `query($id: ID!, $d: LineageDirection!, $depth: Int!) {
  lineage(start: [$id], direction: $d, maxDepth: $depth, first: 1000) { nodes { node { id } } }
}`;

describe("the web UI", () => {
  it("lists the seeded models", async () => {
    const { page, foreign } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/models`);
    await page.waitForSelector("[data-testid=models] tbody tr");
    const text = await page.textContent("[data-testid=models]");
    expect(text).toContain("churn-classifier");
    expect(text).toContain("churn-classifier-small");
    await page.screenshot({ path: `${SHOTS}/models.png`, fullPage: true });
    expect(foreign).toEqual([]);
  });

  it("says a credential is needed when it has none", async () => {
    const { page } = await pageAs(null);
    await page.goto(`${server.base}/models`);
    await page.waitForSelector("[role=alert]");
    expect(await page.textContent("[role=alert]")).toContain("UNAUTHENTICATED");
  });

  it("draws a version's lineage in one request, with the nodes the walk reaches", async () => {
    const data = await server.gql(`{ modelVersions(filter: {name: {eq: "v1"}}, first: 10) { nodes { id registeredModel { name } } } }`);
    const version = data.modelVersions.nodes.find((v: any) => v.registeredModel.name === "churn-classifier-small");
    const up = await server.gql(WALK, { id: version.id, d: "UPSTREAM", depth: 4 });
    const down = await server.gql(WALK, { id: version.id, d: "DOWNSTREAM", depth: 4 });
    const expected = new Set<string>([
      version.id,
      ...up.lineage.nodes.map((n: any) => n.node.id),
      ...down.lineage.nodes.map((n: any) => n.node.id),
    ]);
    const { page, graphql } = await pageAs(server.tokens.editor);
    graphql.length = 0;
    await page.goto(`${server.base}/versions/${version.id}`);
    const drawn = await nodeIds(page);
    expect(drawn).toEqual(expected);
    await page.screenshot({ path: `${SHOTS}/version.png`, fullPage: true });
    // the page's data comes in one request (the viewer, who is signed in, is asked once)
    expect(graphql.filter((op) => op !== "Viewer")).toEqual(["Version"]);
  });

  it("expands a node, hides later nodes with the asOf slider, and highlights a path", async () => {
    const data = await server.gql(`{ datasets(filter: {name: {eq: "customer-events-raw"}}) { nodes { id } } }`);
    const raw = data.datasets.nodes[0].id;
    // something added later: a run that reads the raw data
    const exp = await server.gql(`{ experiments(first: 1) { nodes { id } } }`);
    const late = await server.gql(
      `mutation($e: ID!) { createExperimentRun(input: {experimentId: $e, name: "late-run"}) { id } }`,
      { e: exp.experiments.nodes[0].id },
    );
    const lateId = late.createExperimentRun.id;
    await server.gql(`mutation($s: ID!, $t: ID!) { addLineageEdges(edges: [{source: $s, target: $t, kind: INPUT}]) { id } }`, {
      s: raw,
      t: lateId,
    });

    const { page } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/lineage/${raw}?direction=DOWNSTREAM&depth=1`);
    const first = await nodeIds(page);
    expect(first.has(lateId)).toBe(true);
    // expanding a node on the edge of the drawing adds its neighbours
    let run = "";
    let grown: string[] = [];
    for (const id of first) {
      const next = await server.gql(WALK, { id, d: "DOWNSTREAM", depth: 1 });
      const added = next.lineage.nodes.map((n: any) => n.node.id).filter((n: string) => !first.has(n));
      if (added.length > 0) {
        run = id;
        grown = added;
        break;
      }
    }
    expect(grown.length).toBeGreaterThan(0);
    await page.click(`[data-node-id="${run}"] .lineage-kind`);
    await page.waitForSelector(`[data-node-id="${grown[0]}"]`);
    const after = await nodeIds(page);
    for (const id of grown) expect(after.has(id)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/lineage-expanded.png`, fullPage: true });

    // the slider at its start: only what existed then
    const slider = page.locator("input[aria-label='as of']");
    await slider.focus();
    await page.keyboard.press("Home");
    await page.waitForFunction((id) => !document.querySelector(`[data-node-id="${id}"]`), lateId);
    const past = await nodeIds(page);
    expect(past.has(lateId)).toBe(false);
    expect(past.has(raw)).toBe(true);
    await slider.focus();
    await page.keyboard.press("End");
    await page.waitForSelector(`[data-node-id="${lateId}"]`);

    // a path between two nodes, picked by clicking
    await page.check("text=click picks path ends");
    await page.click(`[data-node-id="${raw}"] .lineage-kind`);
    await page.click(`[data-node-id="${grown[0]}"] .lineage-kind`);
    await page.waitForSelector(".lineage-node.on-path");
    const onPath = await page.$$eval(".lineage-node.on-path", (els) => els.map((e) => e.getAttribute("data-node-id")));
    expect(onPath).toEqual(expect.arrayContaining([raw, run, grown[0]]));
    await page.screenshot({ path: `${SHOTS}/lineage-explorer.png` });
    await page.screenshot({ path: `${SHOTS}/lineage-path.png`, fullPage: true });
  });

  it("keeps every drawn node visible while path ends are picked again and again", async () => {
    const data = await server.gql(`{ datasets(filter: {name: {eq: "customer-events-raw"}}) { nodes { id } } }`);
    const raw = data.datasets.nodes[0].id;
    const { page } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/lineage/${raw}?direction=DOWNSTREAM&depth=3`);
    const drawn = [...(await nodeIds(page))];
    expect(drawn.length).toBeGreaterThan(2);
    await page.check("text=click picks path ends");
    // each pick re-renders the drawing while React Flow may still be measuring nodes
    for (let round = 0; round < 24; round++) {
      await page.click(`[data-node-id="${raw}"] .lineage-kind`);
      await page.click(`[data-node-id="${drawn[1 + (round % (drawn.length - 1))]}"] .lineage-kind`);
    }
    const hidden = () =>
      page.$$eval(".react-flow__node", (els) =>
        els.filter((e) => getComputedStyle(e).visibility !== "visible").map((e) => e.getAttribute("data-id")),
      );
    await page
      .waitForFunction(
        () => [...document.querySelectorAll(".react-flow__node")].every((e) => getComputedStyle(e).visibility === "visible"),
        undefined,
        { timeout: 5000 },
      )
      .catch(() => undefined);
    expect(await hidden()).toEqual([]);
  });

  it("lets a second person approve a release, and the alias moves", async () => {
    const data = await server.gql(`{ registeredModel(name: "churn-classifier") { id versions(first: 10) { nodes { id name } } } }`);
    const model = data.registeredModel;
    const target = model.versions.nodes[model.versions.nodes.length - 1];
    await server.gql(`mutation($m: ID!) { protectAlias(modelId: $m, alias: "champion", requiredApprovals: 1) { alias } }`, {
      m: model.id,
    });
    const req = await server.gql(
      `mutation($v: ID!) { requestRelease(versionId: $v, alias: "champion", note: "ready") { id } }`,
      { v: target.id },
      server.tokens.editor,
    );
    // the requester sees no approve button
    const asEditor = await pageAs(server.tokens.editor);
    await asEditor.page.goto(`${server.base}/models/${model.id}`);
    await asEditor.page.waitForSelector(`[data-request-id="${req.requestRelease.id}"]`);
    expect(await asEditor.page.$(`[data-request-id="${req.requestRelease.id}"] button`)).toBeNull();
    // an approver does
    const { page } = await pageAs(server.tokens.approver);
    await page.goto(`${server.base}/models/${model.id}`);
    await page.click(`[data-request-id="${req.requestRelease.id}"] button:has-text("approve")`);
    await page.waitForSelector("[data-alias=champion]");
    expect(await page.textContent("[data-alias=champion]")).toContain(target.name);
    await page.screenshot({ path: `${SHOTS}/model-release.png`, fullPage: true });
  });

  it("sorts runs and compares two", async () => {
    const data = await server.gql(`{ experiments(first: 1) { nodes { id } } }`);
    const { page } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/experiments/${data.experiments.nodes[0].id}`);
    await page.waitForSelector("[data-testid=runs] tbody tr");
    const names = () => page.$$eval("[data-testid=runs] tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent ?? ""));
    await page.click("th[data-column='name']");
    const ascending = await names();
    expect(ascending.length).toBeGreaterThanOrEqual(2);
    expect(ascending).toEqual([...ascending].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));
    await page.click("th[data-column='name']");
    expect(await names()).toEqual([...ascending].reverse());
    const boxes = page.locator("[data-testid=runs] tbody input[type=checkbox]");
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.waitForSelector("[data-testid=compare]");
    await page.screenshot({ path: `${SHOTS}/experiment.png`, fullPage: true });
  });

  it("opens a run and finds things by name, within the server's default limits", async () => {
    const { page } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/search?q=churn`);
    await page.waitForSelector("[data-testid=hits] li");
    const hits = await page.textContent("[data-testid=hits]");
    expect(hits).toContain("churn-classifier");
    expect(hits).toContain("churn-prediction");
    await page.click("[data-testid=hits] a:has-text('churn-prediction')");
    await page.waitForSelector("[data-testid=runs] tbody tr a");
    await page.click("[data-testid=runs] tbody tr a");
    await page.waitForSelector("h2:has-text('Inputs')");
    expect(page.url()).toMatch(/\/runs\/\d+$/);
    expect(await page.$("[role=alert]")).toBeNull();
  });

  it("runs GraphiQL's starter query with nothing fetched from elsewhere", async () => {
    const { page, foreign } = await pageAs(server.tokens.editor);
    await page.goto(`${server.base}/graphql`);
    // the run button is drawn before the query editor has its text; a click before then
    // runs nothing
    await page.waitForFunction(() =>
      document.querySelector(".graphiql-query-editor")?.textContent?.includes("StarterLineage"),
    );
    await page.click(".graphiql-execute-button");
    await page.waitForFunction(() => document.querySelector(".result-window")?.textContent?.includes("customer"));
    expect(await page.textContent(".result-window")).toContain("downstream");
    await page.screenshot({ path: `${SHOTS}/graphiql.png` });
    expect(foreign).toEqual([]);
  });
});
