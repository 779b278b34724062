// A `modelgraph serve` process on a fresh SQLite file, seeded with `seed-demo`, with
// tokens for the people the tests play.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BIN = resolve(process.env.MODELGRAPH_BIN ?? "../target/debug/modelgraph");

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => done(port));
    });
  });
}

export interface Server {
  base: string;
  tokens: Record<"admin" | "editor" | "approver" | "approver2", string>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
  stop(): void;
}

export async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "modelgraph-ui-"));
  const env = { ...process.env, MODELGRAPH_DATABASE_URL: `sqlite://${dir}/ui.db?mode=rwc`, RUST_LOG: "warn" };
  execFileSync(BIN, ["seed-demo"], { env, stdio: "ignore" });
  const token = (subject: string, role: string) =>
    execFileSync(BIN, ["token", "create", "--subject", subject, "--role", role], { env })
      .toString()
      .trim()
      .split("\n")
      .pop() ?? "";
  const tokens = {
    admin: token("root", "ADMIN"),
    editor: token("ed", "EDITOR"),
    approver: token("ap1", "APPROVER"),
    approver2: token("ap2", "APPROVER"),
  };
  const port = await freePort();
  const child: ChildProcess = spawn(BIN, ["serve", "--bind", `127.0.0.1:${port}`], { env, stdio: "ignore" });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const gql = async (query: string, variables: Record<string, unknown> = {}, as = tokens.admin) => {
    const res = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${as}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: unknown };
    if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
    return body.data as any;
  };
  return {
    base,
    tokens,
    gql,
    stop() {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
