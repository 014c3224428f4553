// tsuzuki's service worker: keeps the app shell (the page, its hashed wasm, JS and CSS, the icons) so the
// page opens at once and even while the server is down, and comes back on its own when the server does.
// It never touches the music or the API: segments are fetched once and kept decoded by the player, and a
// cached status would be a lie.
const SHELL = "tsuzuki-shell-v1";
const STATIC = ["/manifest.webmanifest", "/favicon.svg", "/icon.svg", "/icon-192.png", "/icon-512.png"];
/** Names cargo-leptos gives the page's files: a content hash makes them immutable. */
const HASHED = /^\/pkg\/[^/]+\.[A-Za-z0-9_-]{10,}\.(wasm|js|css)$/;

/** The hashed files a page links to. */
function linked(html) {
  return [...html.matchAll(/["'](\/pkg\/[^"']+)["']/g)].map((m) => m[1]).filter((p) => HASHED.test(p));
}

/** Stores the page and everything it links to, and forgets hashed files no longer linked (older builds). */
async function keepPage(response) {
  const cache = await caches.open(SHELL);
  const html = await response.clone().text();
  const wanted = linked(html);
  await cache.put("/", response);
  for (const path of wanted) if (!(await cache.match(path))) await cache.add(path).catch(() => {});
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (HASHED.test(path) && !wanted.includes(path)) await cache.delete(request);
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(STATIC).catch(() => {});
      const page = await fetch("/", { cache: "no-store" });
      if (page.ok) await keepPage(page);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== SHELL) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (event.request.mode === "navigate" && url.pathname === "/") {
    // The page: from the server when it answers (a new build shows at once), else the last one kept.
    event.respondWith(
      fetch(event.request)
        .then((response) => {
          if (response.ok) event.waitUntil(keepPage(response.clone()));
          return response;
        })
        .catch(async () => (await caches.match("/")) ?? Response.error()),
    );
  } else if (HASHED.test(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname).then(
        (kept) =>
          kept ??
          fetch(event.request).then(async (response) => {
            if (response.ok) await (await caches.open(SHELL)).put(url.pathname, response.clone());
            return response;
          }),
      ),
    );
  } else if (STATIC.includes(url.pathname)) {
    // Small and rarely changed: the network first, the kept copy when it is down.
    event.respondWith(fetch(event.request).catch(async () => (await caches.match(url.pathname)) ?? Response.error()));
  }
  // Everything else (the API, the music) goes to the network untouched.
});
