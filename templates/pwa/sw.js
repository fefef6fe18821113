// Aftercare's service worker (docs/offline.md). Served at /sw.js by aftercare/views/pwa.py
// and registered by static/js/offline.js with the scope /c/: it controls the client's
// pages only, never the therapist's.
//
// - Pages: network first; with no signal, the copy kept for the logged-in client (Today,
//   the whole plan, the warning signs, the check-in form), else the offline page. A page is kept only when
//   the server says so (X-Offline-Store: 1, a 200 GET that sets no cookie) and under the
//   key of the client it belongs to (X-Offline-Client). A different key or "none"
//   (logged out) drops every other client's copy and queue at once.
// - Ticks and check-ins posted with no signal are queued in IndexedDB with their body and
//   the time they were made, answered "saved on this phone", and replayed (Background
//   Sync where there is one, otherwise when a page opens or the phone comes back online)
//   with X-Queued-At. The server keeps them idempotent (one tick per step, day and slot;
//   a check-in's submission key), so a replay never doubles anything.
"use strict";

const CONFIG = {{ config|safe }};
const SHELL_CACHE = "aftercare-shell-v1";
const CLIENT_PREFIX = "aftercare-client-";
const DB_NAME = "aftercare-offline";
const QUEUE = "queue";
const SYNC_TAG = "aftercare-queue";
const SAVED = "Saved on this phone, will send when you're back online.";

// ---- Install and activate ----

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((cache) => Promise.all(CONFIG.shell.map((url) => cache.add(url).catch(() => null))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith("aftercare-shell-") && name !== SHELL_CACHE)
          .map((name) => caches.delete(name))
      ))
      .then(() => self.clients.claim())
  );
});

// ---- Requests ----

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST") {
    if (CONFIG.queueUrls.includes(url.pathname)) event.respondWith(postOrQueue(event));
    else if (url.pathname === CONFIG.logoutUrl) event.respondWith(logout(request));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFile(event));
  } else if (request.mode === "navigate" && url.pathname.startsWith(CONFIG.scope)) {
    event.respondWith(page(event));
  }
});

async function page(event) {
  const request = event.request;
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    return (await keptPage(new URL(request.url))) || (await offlinePage(""));
  }
  event.waitUntil(remember(new URL(request.url), response.clone()).then(() => replay()));
  return response;
}

// Keep the page if the server allows it, for the client it names; forget everyone else's.
async function remember(url, response) {
  const key = response.headers.get("X-Offline-Client");
  if (!key) return;
  if (key === "none") {
    await forget({ keepQueue: true });
    return;
  }
  const previous = await currentKey();
  if (previous && previous !== key) await dropNotifications();
  await forget({ except: key });
  const cache = await caches.open(CLIENT_PREFIX + key);
  if (response.headers.get("X-Offline-Store") !== "1" || response.status !== 200) return;
  await cache.put(url.origin + url.pathname, response);
  if (!(await cache.match(CONFIG.offlineUrl))) {
    try {
      const offline = await fetch(CONFIG.offlineUrl, { credentials: "same-origin" });
      if (offline.status === 200 && offline.headers.get("X-Offline-Store") === "1" &&
          offline.headers.get("X-Offline-Client") === key) {
        await cache.put(new URL(CONFIG.offlineUrl, self.location.origin).href, offline);
      }
    } catch (error) { /* next time */ }
  }
}

async function currentKey() {
  const names = await caches.keys();
  const name = names.find((n) => n.startsWith(CLIENT_PREFIX));
  return name ? name.slice(CLIENT_PREFIX.length) : null;
}

async function clientCache() {
  const key = await currentKey();
  return key ? caches.open(CLIENT_PREFIX + key) : null;
}

async function keptPage(url) {
  const path = url.pathname === CONFIG.startUrl ? CONFIG.todayUrl : url.pathname;
  if (!CONFIG.keptUrls.includes(path)) return null;
  const cache = await clientCache();
  const copy = cache ? (await cache.match(url.origin + path)) || null : null;
  return copy && path === CONFIG.checkinUrl ? freshKey(copy) : copy;
}

// The kept check-in form, with a submission key of its own each time it opens: two
// check-ins from one copy are two check-ins; a replay of one is still one.
async function freshKey(copy) {
  const html = (await copy.text()).replace(
    /(name="submission_key"[^>]*value=")[^"]*(")/,
    "$1" + self.crypto.randomUUID() + "$2"
  );
  return new Response(html, { status: 200, headers: copy.headers });
}

async function offlinePage(query) {
  const cache = await clientCache();
  const kept = cache && (await cache.match(new URL(CONFIG.offlineUrl, self.location.origin).href));
  if (kept) {
    if (!query) return kept;
    // The kept offline page, at an address that tells offline.js which note to show.
    return Response.redirect(CONFIG.offlineUrl + query, 303);
  }
  const body = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">" +
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
    "<title>No signal</title><main style=\"font:18px/1.5 system-ui,sans-serif;margin:24px\">" +
    "<h1>No signal right now</h1><p>" + (query ? SAVED : "Open this again when your phone has a signal.") +
    "</p><p><a href=\"" + CONFIG.todayUrl + "\">Try again</a></p></main></html>";
  return new Response(body, { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

async function staticFile(event) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(event.request);
  const network = fetch(event.request).then((response) => {
    if (response.status === 200 && response.type === "basic") cache.put(event.request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(network.catch(() => null));
    return cached;
  }
  return network;
}

// ---- The queue: ticks and check-ins made with no signal ----

function openDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(QUEUE, { keyPath: "id", autoIncrement: true });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(QUEUE, mode);
    const result = work(tx.objectStore(QUEUE));
    tx.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

const queued = () => withStore("readonly", (store) => store.getAll());
const enqueue = (entry) => withStore("readwrite", (store) => store.add(entry));
const dequeue = (id) => withStore("readwrite", (store) => store.delete(id));
const markFailed = (entry) => withStore("readwrite", (store) => store.put({ ...entry, failed: true }));

function wantsJson(request) {
  const accept = request.headers.get("Accept") || "";
  return accept.includes("application/json") || request.headers.get("X-Requested-With") === "fetch";
}

async function postOrQueue(event) {
  const request = event.request;
  const copy = request.clone();
  try {
    const response = await fetch(request);
    event.waitUntil(replay());
    return response;
  } catch (error) {
    const key = await currentKey();
    if (!key) return offlinePage("");
    const url = new URL(request.url);
    const kind = url.pathname === CONFIG.queueUrls[0] ? "tick" : "checkin";
    const body = await copy.arrayBuffer();
    const headers = {};
    for (const name of ["Content-Type", "Accept", "X-CSRFToken", "X-Requested-With"]) {
      const value = copy.headers.get(name);
      if (value) headers[name] = value;
    }
    await enqueue({ url: request.url, kind, body, headers, client: key, queuedAt: new Date().toISOString() });
    if (self.registration.sync) {
      try { await self.registration.sync.register(SYNC_TAG); } catch (e) { /* replayed on the next open */ }
    }
    tellPages({ type: "queued", kind });
    if (wantsJson(request)) {
      return new Response(JSON.stringify({ ok: true, queued: true, message: SAVED }), {
        status: 202, headers: { "Content-Type": "application/json" },
      });
    }
    let query = "?saved=" + kind;
    const signs = kind === "checkin" ? warningSigns(body, headers["Content-Type"]) : null;
    if (signs) query += "&signs=" + encodeURIComponent(signs.join(",") || "yes");
    return offlinePage(query);
  }
}

// A "yes" to a warning sign must not wait for a signal: the saved page says what to do
// now. The signs ticked (maybe none), or null when the answer was no.
function warningSigns(body, contentType) {
  if (!(contentType || "").includes("application/x-www-form-urlencoded")) return null;
  const form = new URLSearchParams(new TextDecoder().decode(body));
  const signs = form.getAll("safety_signs");
  return form.get("warning") === "yes" || signs.length ? signs : null;
}

let replaying = null;
function replay() {
  if (!replaying) replaying = sendQueued().finally(() => { replaying = null; });
  return replaying;
}

// Send what waits, oldest first. Resolves true when nothing is left to send.
async function sendQueued() {
  const entries = (await queued()).filter((entry) => !entry.failed);
  if (!entries.length) return true;
  let sent = 0;
  let failed = 0;
  for (const entry of entries) {
    if (entry.client !== (await currentKey())) { await dequeue(entry.id); continue; }
    let response;
    try {
      response = await fetch(entry.url, {
        method: "POST",
        body: entry.body,
        // X-Queued-For: the server refuses it under any other client's login (409).
        headers: { ...entry.headers, "X-Queued-At": entry.queuedAt, "X-Queued-For": entry.client },
        credentials: "same-origin",
      });
    } catch (error) {
      tellPages({ type: "replayed", sent, failed });
      return false;  // still no signal: keep the rest, in order
    }
    const key = response.headers.get("X-Offline-Client");
    if (key === "none") return false;  // logged out for now: keep it for when the client is back
    if (key && key !== entry.client) { await dequeue(entry.id); continue; }  // never under another login
    const json = (response.headers.get("Content-Type") || "").includes("application/json");
    if ((response.status === 200 && response.redirected) || (response.ok && json)) {
      await dequeue(entry.id);
      sent += 1;
    } else if (response.status >= 500 || response.status === 429) {
      tellPages({ type: "replayed", sent, failed });
      return false;  // the server is struggling: try again later
    } else {
      await markFailed(entry);  // refused (expired form, unanswered question): say so once
      failed += 1;
    }
  }
  tellPages({ type: "replayed", sent, failed });
  return true;
}

self.addEventListener("sync", (event) => {
  if (event.tag !== SYNC_TAG) return;
  event.waitUntil(replay().then((done) => { if (!done) throw new Error("still offline"); }));
});

// ---- Logging out and changing client ----

async function forget({ except = null, keepQueue = false } = {}) {
  const names = await caches.keys();
  await Promise.all(names
    .filter((name) => name.startsWith(CLIENT_PREFIX) && name !== CLIENT_PREFIX + except)
    .map((name) => caches.delete(name)));
  if (keepQueue) return;
  const entries = await queued();
  for (const entry of entries) {
    if (entry.client !== except) await dequeue(entry.id);
  }
}

// Another client logged in on this phone: the previous client's notifications (each with
// their own login link) must stop coming here. Unsubscribing makes the push service answer
// 410 to our next send, which deletes that subscription and sends the email instead.
async function dropNotifications() {
  try {
    const subscription = await self.registration.pushManager.getSubscription();
    if (subscription) await subscription.unsubscribe();
  } catch (error) { /* no push on this browser */ }
}

async function logout(request) {
  await replay().catch(() => null);  // send what this client saved offline first
  try {
    const response = await fetch(request);
    await forget();
    return response;
  } catch (error) {
    await forget({ keepQueue: true });
    return offlinePage("");
  }
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "replay") event.waitUntil(replay());
  else if (data.type === "forget") event.waitUntil(forget({ keepQueue: !!data.keepQueue }));
});

async function tellPages(message) {
  const pages = await self.clients.matchAll({ type: "window" });
  pages.forEach((page) => page.postMessage(message));
}

// ---- Web push (issue 12: reminders by push) ----
// The payload is JSON: {"title": ..., "body": ..., "url": ..., "tag": ...}. A tap opens
// (or focuses) the url, which must be on this site; Today otherwise.

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(self.registration.showNotification(data.title || "Your aftercare", {
    body: data.body || "",
    icon: CONFIG.shell.find((url) => url.includes("icon-192")),
    tag: data.tag || undefined,
    data: { url: data.url || CONFIG.todayUrl },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  let target = new URL(CONFIG.todayUrl, self.location.origin);
  try {
    const asked = new URL((event.notification.data || {}).url || CONFIG.todayUrl, self.location.origin);
    if (asked.origin === self.location.origin) target = asked;
  } catch (error) { /* keep Today */ }
  event.waitUntil((async () => {
    const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = pages.find((page) => page.url === target.href);
    if (open) return open.focus();
    return self.clients.openWindow(target.href);
  })());
});
