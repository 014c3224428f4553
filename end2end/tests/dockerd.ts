import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

// A private Docker engine for one test, as the Rust container tests have (server/tests/common/dockerd.rs):
// its own data root, exec root and socket, no bridge and no iptables (containers use host networking), and
// the OpenAI-compatible double imported as an image built FROM nothing: no registry is needed.

export const OPENAI_IMAGE = "tsuzuki-test/openai-double:1";

const repo = path.resolve(__dirname, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");

export type Engine = { host: string; stop(): Promise<void> };

function docker(host: string, args: string[]) {
  return execFileSync("docker", ["-H", host, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Why no engine can run here, or `null` when one can. */
export function unavailable(): string | null {
  if (process.getuid?.() !== 0) return "dockerd needs root";
  try {
    execFileSync("dockerd", ["--version"], { stdio: "ignore" });
  } catch {
    return "dockerd is not installed";
  }
  return null;
}

/** The double's binary with the shared libraries `ldd` lists, packed as an image's root. */
function rootfs(dir: string): string {
  const binary = path.join(targetDir, "debug", "openai-double");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: cargo build -p openai-double`);
  const root = path.join(dir, "rootfs");
  mkdirSync(path.join(root, "tmp"), { recursive: true });
  chmodSync(path.join(root, "tmp"), 0o1777);
  const inside = path.join(root, "openai-double");
  try {
    execFileSync("strip", ["-o", inside, binary], { stdio: "ignore" });
  } catch {
    copyFileSync(binary, inside);
  }
  const libraries = execFileSync("ldd", [binary], { encoding: "utf8" })
    .split(/\s+/)
    .filter((word) => word.startsWith("/"));
  for (const library of libraries) {
    const target = path.join(root, library);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(library, target);
  }
  const tar = path.join(dir, "rootfs.tar");
  execFileSync("tar", ["--numeric-owner", "-C", root, "-cf", tar, "."]);
  return tar;
}

async function exited(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once("exit", resolve));
}

/** Starts the engine and imports the double's image. */
export async function startEngine(): Promise<Engine> {
  const dir = mkdtempSync(path.join(tmpdir(), "tsz-e2e-dockerd-"));
  writeFileSync(path.join(dir, "daemon.json"), "{}");
  const socket = path.join(dir, "docker.sock");
  const host = `unix://${socket}`;
  const namespace = `tsuzuki-e2e-${process.pid}`;
  const log = openSync(path.join(dir, "dockerd.log"), "w");
  const dockerd = spawn(
    "dockerd",
    [
      "--config-file", path.join(dir, "daemon.json"),
      "--data-root", path.join(dir, "data"),
      "--exec-root", path.join(dir, "exec"),
      "--pidfile", path.join(dir, "dockerd.pid"),
      "-H", host,
      "--containerd-namespace", namespace,
      "--containerd-plugins-namespace", `${namespace}-plugins`,
      "--iptables=false",
      "--bridge=none",
    ],
    { stdio: ["ignore", log, log] },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      docker(host, ["version"]);
      break;
    } catch (e) {
      if (dockerd.exitCode !== null || Date.now() > deadline) {
        const tail = readFileSync(path.join(dir, "dockerd.log"), "utf8").split("\n").slice(-5).join(" | ");
        dockerd.kill("SIGTERM");
        throw new Error(`dockerd did not answer: ${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  docker(host, ["import", "--change", 'ENTRYPOINT ["/openai-double"]', rootfs(dir), OPENAI_IMAGE]);
  return {
    host,
    async stop() {
      const all = docker(host, ["ps", "-aq"]).split("\n").filter(Boolean);
      if (all.length > 0) docker(host, ["rm", "-f", ...all]);
      dockerd.kill("SIGTERM");
      await exited(dockerd);
      // What dockerd left mounted under its folders, deepest first, before they are deleted.
      const mounts = readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .map((line) => line.split(" ")[1])
        .filter((point) => point?.startsWith(dir))
        .reverse();
      for (const point of mounts) {
        try {
          execFileSync("umount", ["-l", point], { stdio: "ignore" });
        } catch {
          // Already gone.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
