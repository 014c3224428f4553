import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

// Extra tsuzuki servers (and ACE-Step test doubles) with their own settings, from the binaries the test
// command has built. The default server on :3000 is started by `cargo leptos end-to-end`.
const repo = path.resolve(__dirname, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
const bin = (name: string) => path.join(targetDir, "debug", name);
let nextPort = 3100;

async function waitFor(url: string, child: ChildProcess, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function launch(name: string, args: string[], logName: string) {
  const child = spawn(bin(name), args, {
    cwd: repo,
    env: { ...process.env, LEPTOS_SITE_ROOT: path.join(repo, "target", "site"), RUST_LOG: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.on("error", (e) => console.error(`${logName}: ${e}`));
  return child;
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

export type Server = {
  url: string;
  port: number;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the process but keeps its port and data dir, until `up`. */
  down(): Promise<void>;
  up(): Promise<void>;
};

/** A tsuzuki server with `args` (segment lengths, backend, ...) on a fresh port and data dir. */
export async function startServer(args: string[]): Promise<Server> {
  const port = nextPort++;
  const data = mkdtempSync(path.join(tmpdir(), "tsuzuki-e2e-"));
  const url = `http://127.0.0.1:${port}`;
  const all = ["--addr", `127.0.0.1:${port}`, "--data-dir", data, ...args];
  let child = launch("tsuzuki", all, url);
  await waitFor(`${url}/health`, child);
  return {
    url,
    port,
    async stop() {
      await stopChild(child);
      rmSync(data, { recursive: true, force: true });
    },
    async restart() {
      await this.down();
      await this.up();
    },
    down: () => stopChild(child),
    async up() {
      child = launch("tsuzuki", all, url);
      await waitFor(`${url}/health`, child);
    },
  };
}

export type Double = {
  url: string;
  faults(f: Record<string, number>): Promise<void>;
  requests(): Promise<{ path: string; release_task?: { prompt?: string; task_type?: string } }[]>;
  stop(): Promise<void>;
  /** Starts it again on the same port, as a model server coming back. */
  start(): Promise<void>;
};

/** The ACE-Step test double (`acestep-double`), speaking ACE-Step's HTTP API. */
export async function startDouble(args: string[] = []): Promise<Double> {
  const port = nextPort++;
  const url = `http://127.0.0.1:${port}`;
  const all = ["--port", String(port), ...args];
  let child = launch("acestep-double", all, url);
  await waitFor(`${url}/health`, child);
  return {
    url,
    async start() {
      child = launch("acestep-double", all, url);
      await waitFor(`${url}/health`, child);
    },
    async faults(f) {
      const reply = await fetch(`${url}/_double/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(f),
      });
      if (!reply.ok) throw new Error(`faults: HTTP ${reply.status}`);
    },
    async requests() {
      return (await fetch(`${url}/_double/requests`)).json();
    },
    stop: () => stopChild(child),
  };
}

export type Proxy = { url: string; cuts(): number; stop(): Promise<void> };

/**
 * A proxy in front of `target` that breaks off every whole segment download after `cutAfter` bytes of its
 * body, as a flaky network does; requests for a range, and everything else, pass through untouched.
 */
export async function startCuttingProxy(target: string, cutAfter: number): Promise<Proxy> {
  const port = nextPort++;
  let cuts = 0;
  const sockets = new Set<import("node:net").Socket>();
  const server = http.createServer((request, response) => {
    const upstream = http.request(
      `${target}${request.url}`,
      { method: request.method, headers: request.headers },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        const cut = request.url?.startsWith("/audio/") && !request.headers.range && reply.statusCode === 200;
        let sent = 0;
        reply.on("data", (chunk: Buffer) => {
          if (cut && sent + chunk.length >= cutAfter) {
            // Broken off once the bytes have reached the browser: a connection cut before then loses them
            // in Chromium's network stack, and the download starts over instead of resuming.
            response.write(chunk.subarray(0, cutAfter - sent), () => {
              cuts++;
              setTimeout(() => response.socket?.destroy(), 300);
            });
            reply.destroy();
            return;
          }
          sent += chunk.length;
          response.write(chunk);
        });
        reply.on("end", () => response.end());
      },
    );
    upstream.on("error", () => response.destroy());
    request.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    cuts: () => cuts,
    async stop() {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
