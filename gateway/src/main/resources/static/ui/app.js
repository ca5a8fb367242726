// Gantry dashboard: a static, dependency-free single page over the public API (docs/api.md).
// Every value from the API is rendered through textContent or attributes, never as HTML, and no
// handler is inline, so the page works under the strict Content-Security-Policy it is served with.
// The API key lives in sessionStorage only: never in a URL, a cookie or persistent storage.
"use strict";

(() => {
  const KEY = "gantry.apiKey";
  const STATUS_WALK = ["starting", "filesystem_created", "downloading_model", "model_downloaded", "running"];
  const TABS = ["overview", "workers", "logs", "usage", "settings"];
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");

  // Timers, stream readers and the like of the current view; stopped when the view changes.
  let cleanups = [];
  const onLeave = (fn) => cleanups.push(fn);
  const leaveView = () => {
    const pending = cleanups;
    cleanups = [];
    pending.forEach((fn) => {
      try { fn(); } catch (e) { /* a view being left must not block the next */ }
    });
  };
  const every = (ms, fn) => {
    let stopped = false;
    let timer = null;
    const tick = async () => {
      if (stopped) return;
      try { await fn(); } catch (e) { /* shown by fn itself; keep polling */ }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    onLeave(() => { stopped = true; clearTimeout(timer); });
    tick();
  };

  // ---- DOM helpers -------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "class") node.className = value;
      else if (name === "value") node.value = value;
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    append(node, ...children);
    return node;
  }
  function append(node, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function replace(node, ...children) {
    node.replaceChildren();
    return append(node, ...children);
  }
  const svg = (tag, attrs, ...children) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  };
  let uniq = 0;
  const nextId = (base) => `${base}-${++uniq}`;

  // ---- formatting --------------------------------------------------------------------------
  const usd = (v) => (v === null || v === undefined ? "–" : `$${Number(v).toFixed(v >= 1 ? 2 : 6)}`);
  const when = (t) => (t ? new Date(t).toLocaleString() : "–");
  const clock = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const bytes = (n) => {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let v = Number(n) || 0;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  };
  const badge = (status) => h("span", { class: `badge ${status}` }, String(status).replaceAll("_", " "));
  const shellQuote = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;

  // ---- API ---------------------------------------------------------------------------------
  const apiKey = () => sessionStorage.getItem(KEY);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || (body.error && body.error.message))) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(method, path, body, init) {
    const headers = { Authorization: `Bearer ${apiKey()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", ...(init || {}),
    });
    if (init && init.raw) return response;
    const text = await response.text();
    let parsed = null;
    if (text) {
      try { parsed = JSON.parse(text); } catch (e) { parsed = { detail: text }; }
    }
    if (response.status === 401) {
      signOut("Your API key was refused (it may have been revoked). Sign in again.");
      throw new ApiError(401, parsed);
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  // ---- sign in / out -----------------------------------------------------------------------
  let signOutMessage = null;
  function signOut(message) {
    sessionStorage.removeItem(KEY);
    signOutMessage = message || null;
    leaveView();
    if (location.hash !== "#/") location.hash = "#/";
    else route();
  }
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));

  function signInView() {
    nav.hidden = true;
    const error = h("div", { role: "alert" });
    const input = h("input", {
      id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true,
      spellcheck: "false", placeholder: "gk_…",
    });
    const form = h("form", { class: "card", id: "sign-in", onsubmit: async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      // Tried before it is stored, so a wrong key never lingers in the session.
      const response = await fetch("/api/v1/deployments", {
        headers: { Authorization: `Bearer ${key}` }, cache: "no-store",
      });
      if (response.ok) {
        sessionStorage.setItem(KEY, key);
        input.value = "";
        route();
      } else {
        replace(error, h("p", { class: "alert" }, response.status === 429
          ? "Too many failed attempts from this address; wait a minute and retry."
          : "This API key was not accepted."));
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    } },
    h("label", { for: "api-key" }, "API key ", h("span", { class: "hint" },
      "(kept in this tab's session storage only; closing the tab signs you out)")),
    input,
    h("p", {}, h("button", { type: "submit", class: "primary" }, "Sign in")),
    error);
    replace(main,
      h("h1", {}, "Sign in"),
      signOutMessage ? h("p", { class: "notice", role: "status" }, signOutMessage) : null,
      form,
      h("p", { class: "muted" }, "On first start Gantry prints an admin key and writes it to ",
        h("code", {}, "<data dir>/admin-api-key"), "."));
    signOutMessage = null;
    input.focus();
  }

  // ---- router ------------------------------------------------------------------------------
  function route() {
    leaveView();
    if (!apiKey()) return signInView();
    nav.hidden = false;
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    document.querySelectorAll("#nav a").forEach((a) => a.removeAttribute("aria-current"));
    const mark = (href) => {
      const link = document.querySelector(`#nav a[href="${href}"]`);
      if (link) link.setAttribute("aria-current", "page");
    };
    if (parts[0] === "new") { mark("#/new"); createView(); }
    else if (parts[0] === "keys") { mark("#/keys"); keysView(); }
    else if (parts[0] === "d" && parts[1]) deploymentView(parts[1], TABS.includes(parts[2]) ? parts[2] : "overview");
    else { mark("#/"); listView(); }
  }
  window.addEventListener("hashchange", () => { route(); main.focus(); });

  function failure(e) {
    return h("p", { class: "alert", role: "alert" }, e instanceof ApiError ? `${e.status}: ${e.message}` : `Request failed: ${e.message}`);
  }

  // ---- deployments list --------------------------------------------------------------------
  function listView() {
    document.title = "Deployments · Gantry";
    const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
    replace(main, h("div", { class: "row" }, h("h1", {}, "Deployments"),
      h("a", { href: "#/new", class: "button" }, "New deployment")), body);
    every(3000, async () => {
      try {
        const list = await api("GET", "/api/v1/deployments");
        if (!list.length) {
          replace(body, h("p", { class: "card" }, "No deployments yet. ", h("a", { href: "#/new" }, "Create one"), "."));
          return;
        }
        replace(body, h("table", { id: "deployments" },
          h("caption", { class: "visually-hidden" }, "Your deployments, newest first"),
          h("thead", {}, h("tr", {}, ["Name", "Status", "Framework", "Model", "Workers (healthy / total)", "Cost", "Created"]
            .map((t, i) => h("th", { scope: "col", class: i === 5 ? "num" : null }, t)))),
          h("tbody", {}, list.map((d) => h("tr", { "data-id": d.id },
            h("td", {}, h("a", { href: `#/d/${encodeURIComponent(d.id)}/overview` }, d.name), h("div", { class: "hint" }, d.id)),
            h("td", {}, badge(d.status), d.status_reason ? h("div", { class: "hint" }, d.status_reason) : null),
            h("td", {}, d.framework),
            h("td", {}, d.model, d.gpu ? h("div", { class: "hint" }, `${d.gpu.count} × ${d.gpu.type}`) : null),
            h("td", {}, `${d.workers.healthy} / ${d.workers.total}`),
            h("td", { class: "num" }, usd(d.accrued_cost_usd)),
            h("td", {}, when(d.created_at)))))));
      } catch (e) {
        if (e.status !== 401) replace(body, failure(e));
      }
    });
  }

  // ---- forms with API field errors ---------------------------------------------------------
  // A field is an input plus the place its API error is shown; errors[].field names it.
  function field(form, name, label, input, hint, cls) {
    const id = input.id || nextId(`f-${name.replace(/[^a-z0-9]+/gi, "-")}`);
    input.id = id;
    if (!input.name) input.name = name;
    const message = h("div", { class: "field-error", id: `${id}-error` });
    input.setAttribute("aria-describedby", `${id}-error`);
    form.fields.set(name, { input, message });
    return h("div", { class: cls || null },
      h("label", { for: id }, label, hint ? h("span", { class: "hint" }, ` ${hint}`) : null), input, message);
  }
  function formState() {
    return { fields: new Map(), general: h("div", { role: "alert" }) };
  }
  function clearErrors(form) {
    replace(form.general);
    for (const { input, message } of form.fields.values()) {
      input.removeAttribute("aria-invalid");
      replace(message);
    }
  }
  // Shows a problem's errors[] next to their fields (`gpu.type`, `env.HF_TOKEN`,
  // `framework_args[2]`); those without a field on the form go into the general message.
  function showProblem(form, e, placedElsewhere) {
    clearErrors(form);
    const unplaced = [];
    const errors = (e.body && Array.isArray(e.body.errors)) ? e.body.errors : [];
    let first = null;
    for (const err of errors) {
      const name = String(err.field || "");
      if (placedElsewhere && placedElsewhere(err)) continue;
      const target = form.fields.get(name)
        || form.fields.get(name.replace(/\[\d+\]$/, ""))
        || form.fields.get(name.split(".")[0]);
      if (!target) { unplaced.push(`${name}: ${err.message}`); continue; }
      target.input.setAttribute("aria-invalid", "true");
      const prefix = form.fields.get(name) ? "" : `${name}: `;
      append(target.message, h("div", {}, prefix + err.message));
      first = first || target.input;
    }
    append(form.general, h("div", { class: "alert" }, h("strong", {}, e.message),
      unplaced.length ? h("ul", {}, unplaced.map((u) => h("li", {}, u))) : null));
    if (first) first.focus();
  }
  const intOrNull = (input) => (input.value.trim() === "" ? null : (/^-?\d+$/.test(input.value.trim()) ? Number(input.value.trim()) : input.value.trim()));
  const numOrNull = (input) => (input.value.trim() === "" ? null : (Number.isFinite(Number(input.value)) ? Number(input.value) : input.value.trim()));

  // ---- create form -------------------------------------------------------------------------
  function createView() {
    document.title = "New deployment · Gantry";
    const form = formState();
    const num = (placeholder) => h("input", { type: "text", inputmode: "numeric", placeholder });
    const framework = h("select", {}, ["sim", "vllm", "sglang", "ollama"].map((f) => h("option", { value: f }, f)));
    const name = h("input", { type: "text", required: true, maxlength: 100 });
    const model = h("input", { type: "text", required: true, placeholder: "tiny-llama, Qwen/Qwen2.5-7B-Instruct, qwen2.5:7b" });
    const gpuType = h("select", {}, h("option", { value: "" }, "none (sim)"),
      ["H200", "H100", "A100-80GB", "A100-40GB", "L40S", "L4", "A10G", "RTX4090"].map((g) => h("option", { value: g }, g)));
    const gpuCount = num("1");
    const fallbacks = h("input", { type: "text", placeholder: "A100-80GB, L40S" });
    const minWorkers = num("0");
    const maxWorkers = num("1");
    const concurrency = num("8");
    const idle = num("300");
    const wait = num("60");
    const storage = num("50");
    const maxTokens = num("16384");
    const nLimit = num("4");
    const args = h("textarea", { rows: 2, placeholder: "--max-model-len=8192 (one per line)" });
    const target = h("input", { type: "text", inputmode: "decimal", placeholder: "1" });
    const delay = num("auto");
    const warm = num("0");
    const queueDelay = num("0");
    const envRows = h("div", { id: "env-rows" });
    const envField = h("div", { class: "field-error", id: "env-error" });
    form.fields.set("env", { input: envRows, message: envField });

    const addEnv = () => {
      const envName = h("input", { type: "text", placeholder: "HF_TOKEN", autocomplete: "off", spellcheck: "false" });
      const envValue = h("input", { type: "password", autocomplete: "new-password", placeholder: "value (write-only)" });
      const n = envRows.children.length + 1;
      envName.setAttribute("aria-label", `Variable ${n} name`);
      envValue.setAttribute("aria-label", `Variable ${n} value`);
      const message = h("div", { class: "field-error full" });
      const row = h("div", { class: "env-row" }, envName, envValue,
        h("button", { type: "button", onclick: () => { row.remove(); } }, "Remove"), message);
      row.envName = envName;
      row.envValue = envValue;
      row.envMessage = message;
      envRows.append(row);
      envName.focus();
    };

    const submit = h("button", { type: "submit", class: "primary" }, "Create deployment");
    const el = h("form", { id: "create-form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(form);
      envRows.querySelectorAll(".env-row").forEach((r) => { replace(r.envMessage); r.envName.removeAttribute("aria-invalid"); });
      const body = { name: name.value, model: model.value.trim(), framework: framework.value };
      if (gpuType.value) {
        body.gpu = { type: gpuType.value };
        if (gpuCount.value.trim()) body.gpu.count = intOrNull(gpuCount);
        const fb = fallbacks.value.split(/[\s,]+/).filter(Boolean);
        if (fb.length) body.gpu.fallback_types = fb;
      }
      const put = (key, input, read) => { const v = (read || intOrNull)(input); if (v !== null) body[key] = v; };
      put("min_workers", minWorkers); put("max_workers", maxWorkers); put("concurrency", concurrency);
      put("idle_timeout_seconds", idle); put("wait_time_seconds", wait); put("storage_gb", storage);
      put("max_tokens_limit", maxTokens); put("n_limit", nLimit);
      const env = {};
      const rows = [...envRows.querySelectorAll(".env-row")];
      for (const r of rows) if (r.envName.value.trim()) env[r.envName.value.trim()] = r.envValue.value;
      if (Object.keys(env).length) body.env = env;
      const argList = args.value.split(/\n+/).map((s) => s.trim()).filter(Boolean);
      if (argList.length) body.framework_args = argList;
      const autoscaling = {};
      const t = numOrNull(target); if (t !== null) autoscaling.target_utilization = t;
      const d = intOrNull(delay); if (d !== null) autoscaling.scale_down_delay_seconds = d;
      const w = intOrNull(warm); if (w !== null) autoscaling.warm_buffer = w;
      const q = intOrNull(queueDelay); if (q !== null) autoscaling.queue_delay_ms = q;
      if (Object.keys(autoscaling).length) body.autoscaling = autoscaling;
      submit.disabled = true;
      try {
        const created = await api("POST", "/api/v1/deployments", body);
        // The env values leave the page with the request; clear them from the form.
        rows.forEach((r) => { r.envValue.value = ""; });
        location.hash = `#/d/${encodeURIComponent(created.id)}/overview`;
      } catch (e) {
        if (e.status === 401) return;
        // env.NAME errors go next to that variable's row; the others next to their fields.
        const envRow = (err) => {
          const m = /^env\.(.+)$/.exec(err.field || "");
          return m && rows.find((r) => r.envName.value.trim() === m[1]);
        };
        showProblem(form, e, envRow);
        for (const err of (e.body && e.body.errors) || []) {
          const row = envRow(err);
          if (row) {
            append(row.envMessage, err.message);
            row.envName.setAttribute("aria-invalid", "true");
          }
        }
      } finally {
        submit.disabled = false;
      }
    } },
    form.general,
    h("fieldset", {}, h("legend", {}, "Model"),
      h("div", { class: "grid" },
        field(form, "name", "Name", name, null, "wide"),
        field(form, "framework", "Framework", framework),
        field(form, "storage_gb", "Storage (GB)", storage),
        field(form, "model", "Model", model, "(Hugging Face repo id, Ollama tag, or any name for sim)", "full"),
        field(form, "framework_args", "Framework args", args, "(one --flag or --flag=value per line)", "full"))),
    h("fieldset", {}, h("legend", {}, "GPU"),
      h("div", { class: "grid" },
        field(form, "gpu.type", "GPU type", gpuType),
        field(form, "gpu.count", "GPU count", gpuCount),
        field(form, "gpu.fallback_types", "Fallback types", fallbacks, "(comma separated)", "wide"))),
    h("fieldset", {}, h("legend", {}, "Scaling and limits"),
      h("div", { class: "grid" },
        field(form, "min_workers", "Min workers", minWorkers),
        field(form, "max_workers", "Max workers", maxWorkers),
        field(form, "concurrency", "Concurrency", concurrency, "(requests per worker)"),
        field(form, "idle_timeout_seconds", "Idle timeout (s)", idle),
        field(form, "wait_time_seconds", "Wait time (s)", wait),
        field(form, "max_tokens_limit", "Max tokens limit", maxTokens),
        field(form, "n_limit", "n limit", nLimit))),
    h("fieldset", {}, h("legend", {}, "Autoscaling"),
      h("div", { class: "grid" },
        field(form, "autoscaling.target_utilization", "Target utilization", target, "(0.1–1)"),
        field(form, "autoscaling.scale_down_delay_seconds", "Scale-down delay (s)", delay, "(empty: auto)"),
        field(form, "autoscaling.warm_buffer", "Warm buffer", warm, "(workers)"),
        field(form, "autoscaling.queue_delay_ms", "Queue delay (ms)", queueDelay))),
    h("fieldset", {}, h("legend", {}, "Environment ", h("span", { class: "hint" }, "(values are write-only: encrypted, never shown again)")),
      envRows, envField,
      h("button", { type: "button", id: "add-env", onclick: addEnv }, "Add variable")),
    h("p", {}, submit));
    replace(main, h("h1", {}, "New deployment"), el);
    name.focus();
  }

  // ---- deployment page ---------------------------------------------------------------------
  function deploymentView(id, tab) {
    const path = `/api/v1/deployments/${encodeURIComponent(id)}`;
    const title = h("h1", {}, id);
    const panel = h("div", { role: "tabpanel", id: "tab-panel", tabindex: "0", "aria-labelledby": `tab-${tab}` });
    const tablist = h("div", { role: "tablist", "aria-label": "Deployment" }, TABS.map((t) => h("button", {
      type: "button", role: "tab", id: `tab-${t}`, "aria-selected": String(t === tab), "aria-controls": "tab-panel",
      tabindex: t === tab ? "0" : "-1",
      onclick: () => { location.hash = `#/d/${encodeURIComponent(id)}/${t}`; },
      onkeydown: (event) => {
        const i = TABS.indexOf(t);
        const next = event.key === "ArrowRight" ? TABS[(i + 1) % TABS.length]
          : event.key === "ArrowLeft" ? TABS[(i + TABS.length - 1) % TABS.length] : null;
        if (next) {
          location.hash = `#/d/${encodeURIComponent(id)}/${next}`;
          setTimeout(() => { const b = document.getElementById(`tab-${next}`); if (b) b.focus(); }, 0);
        }
      },
    }, t[0].toUpperCase() + t.slice(1))));
    replace(main, h("p", {}, h("a", { href: "#/" }, "← Deployments")), title, tablist, panel);
    document.title = `${id} · Gantry`;
    const setTitle = (d) => {
      replace(title, d.name, " ", badge(d.status));
      document.title = `${d.name} · Gantry`;
    };
    api("GET", path).then(setTitle, () => { /* the tab shows the error */ });
    ({ overview: overviewTab, workers: workersTab, logs: logsTab, usage: usageTab, settings: settingsTab })[tab](id, path, panel, setTitle);
  }

  function overviewTab(id, path, panel, setTitle) {
    every(1500, async () => {
      let d;
      try { d = await api("GET", path); } catch (e) { if (e.status !== 401) replace(panel, failure(e)); return; }
      setTitle(d);
      const reached = STATUS_WALK.indexOf(d.status);
      const walk = h("ol", { class: "walk", "aria-label": "Status walk" }, STATUS_WALK.map((s, i) => {
        let cls = "";
        if (reached >= 0) cls = i < reached ? "done" : i === reached ? "current" : "";
        return h("li", { class: cls || null, "aria-current": i === reached ? "step" : null }, s.replaceAll("_", " "));
      }), reached < 0 ? h("li", { class: d.status === "failed" || d.status === "cleaning" ? "bad" : "current", "aria-current": "step" }, d.status) : null);
      const progress = d.download ? h("div", { id: "download" },
        h("label", { for: "download-progress" }, `Download: ${bytes(d.download.bytes_done)} of ${bytes(d.download.bytes_total)}`),
        h("progress", { id: "download-progress", max: String(d.download.bytes_total || 1), value: String(d.download.bytes_done || 0) })) : null;
      const base = d.openai_base_url;
      const curl = `curl -s ${base}/chat/completions \\\n  -H "Authorization: Bearer $GANTRY_KEY" -H 'Content-Type: application/json' \\\n  -d ${shellQuote(JSON.stringify({ model: d.model, messages: [{ role: "user", content: "Hello!" }] }))}`;
      replace(panel,
        h("section", { class: "card" }, h("h2", {}, "Status"), walk, progress,
          h("p", { id: "status-reason" }, d.status_reason ? d.status_reason : h("span", { class: "muted" }, "No status reason."))),
        h("div", { class: "cols" }, h("section", { class: "card" }, h("h2", {}, "Deployment"), h("dl", { class: "facts" },
          [["Id", d.id], ["Model", d.model], ["Framework", d.framework],
            ["GPU", d.gpu ? `${d.gpu.count} × ${d.gpu.type}${d.gpu.fallback_types.length ? ` (fallbacks ${d.gpu.fallback_types.join(", ")})` : ""}` : "none"],
            ["Workers", `${d.workers.healthy} healthy, ${d.workers.provisioning} provisioning, ${d.workers.total} in all (min ${d.min_workers}, max ${d.max_workers})`],
            ["Concurrency", d.concurrency], ["Idle timeout", `${d.idle_timeout_seconds} s`], ["Wait time", `${d.wait_time_seconds} s`],
            ["Storage", `${d.storage_gb} GB`], ["Env", Object.keys(d.env || {}).join(", ") || "none"],
            ["Framework args", (d.framework_args || []).join(" ") || "none"],
            ["Autoscaling", `target ${d.autoscaling.target_utilization}, scale-down delay ${d.autoscaling.scale_down_delay_seconds ?? "auto"}, warm buffer ${d.autoscaling.warm_buffer}, queue delay ${d.autoscaling.queue_delay_ms} ms`],
            ["Accrued cost", usd(d.accrued_cost_usd)], ["Created", when(d.created_at)], ["Updated", when(d.updated_at)]]
            .map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))),
        h("section", { class: "card" }, h("h2", {}, "OpenAI endpoint"),
          h("p", {}, "Base URL: ", h("code", { id: "base-url" }, base)),
          h("pre", { "aria-label": "curl example" }, curl))));
    });
  }

  function workersTab(id, path, panel) {
    const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
    replace(panel, h("p", { class: "muted" }, "Refreshed every 2 seconds."), body);
    every(2000, async () => {
      let list;
      try { list = await api("GET", `${path}/workers`); } catch (e) { if (e.status !== 401) replace(body, failure(e)); return; }
      if (!list.length) { replace(body, h("p", { class: "card" }, "No workers. Workers start on demand, or for min_workers.")); return; }
      replace(body, h("table", { id: "workers" },
        h("thead", {}, h("tr", {}, ["Worker", "Status", "GPU", "In flight", "Created", "Healthy at", "Stopped at", "Reason"]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.map((w) => h("tr", {},
          h("td", {}, h("code", {}, w.id)), h("td", {}, badge(w.status)), h("td", {}, w.gpu_type || "–"),
          h("td", { class: "num" }, w.in_flight), h("td", {}, when(w.created_at)), h("td", {}, when(w.healthy_at)),
          h("td", {}, when(w.stopped_at)), h("td", {}, w.failure_reason ? h("pre", {}, w.failure_reason) : "–"))))));
    });
  }

  // The API's own 404s are problem details with a detail ("Deployment ... not found"); a route
  // this server does not have answers the framework's bare 404 instead.
  const routeMissing = (body) => !(body && body.detail);
  const notAvailable = (what) => h("p", { class: "notice", role: "status" },
    `${what} are not available on this Gantry server (its API has no such route yet).`);

  function logsTab(id, path, panel) {
    const select = h("select", { id: "log-worker" });
    const output = h("pre", { class: "logs", id: "log-lines", tabindex: "0", "aria-label": "Log lines", "aria-live": "off" });
    const state = h("p", { id: "log-state", role: "status", class: "muted" });
    let controller = null;
    const stop = () => { if (controller) { controller.abort(); controller = null; } };
    onLeave(stop);
    const follow = async () => {
      stop();
      replace(output);
      if (!select.value) return;
      controller = new AbortController();
      const mine = controller;
      replace(state, `Following ${select.value}…`);
      try {
        const q = new URLSearchParams({ worker: select.value, follow: "true", tail: "200" });
        const response = await api("GET", `${path}/logs?${q}`, undefined, { raw: true, signal: mine.signal, headers: { Authorization: `Bearer ${apiKey()}`, Accept: "text/event-stream" } });
        if (response.status === 404) {
          const problem = await response.json().catch(() => ({}));
          replace(state);
          replace(panel, routeMissing(problem) ? notAvailable("Logs") : failure(new ApiError(404, problem)));
          return;
        }
        if (response.status === 401) { signOut("Your API key was refused. Sign in again."); return; }
        if (!response.ok) { replace(state, failure(new ApiError(response.status, await response.json().catch(() => null)))); return; }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        let event = { name: "message", data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buffer.search(/\r?\n/)) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
            if (line === "") {
              if (event.name === "end") { replace(state, "The worker stopped; the log ended."); stop(); return; }
              if (event.data.length) {
                let text = event.data.join("\n");
                try { const parsed = JSON.parse(text); text = parsed.line ?? text; } catch (e) { /* plain text line */ }
                const stick = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
                output.append(document.createTextNode(`${text}\n`));
                if (stick) output.scrollTop = output.scrollHeight;
              }
              event = { name: "message", data: [] };
            } else if (line.startsWith("data:")) event.data.push(line.slice(5).replace(/^ /, ""));
            else if (line.startsWith("event:")) event.name = line.slice(6).trim();
          }
        }
        if (controller === mine) replace(state, "The log stream ended.");
      } catch (e) {
        if (e.name !== "AbortError") replace(state, failure(e));
      }
    };
    select.addEventListener("change", follow);
    replace(panel, h("div", { class: "row" },
      h("label", { for: "log-worker" }, "Worker"), select,
      h("button", { type: "button", id: "log-follow", onclick: follow }, "Follow again"),
      h("button", { type: "button", onclick: () => { stop(); replace(state, "Stopped."); } }, "Stop")),
    state, output);
    (async () => {
      let workers;
      try { workers = await api("GET", `${path}/workers`); } catch (e) { if (e.status !== 401) replace(panel, failure(e)); return; }
      if (!workers.length) { replace(state, "No workers yet, so no logs."); return; }
      replace(select, workers.map((w) => h("option", { value: w.id }, `${w.id} (${w.status})`)));
      follow();
    })();
  }

  // A line chart of one or more series over the buckets, as SVG built element by element.
  const COLORS = ["#0b5cad", "#cf222e", "#1a7f37", "#9a6700", "#8250df"];
  function chart(title, buckets, series, format) {
    const W = 360, H = 150, L = 44, R = 8, T = 8, B = 22;
    const xs = buckets.map((b) => Date.parse(b.start));
    const values = series.map((s) => buckets.map((b) => Number(s.value(b)) || 0));
    const max = Math.max(1e-9, ...values.flat());
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const py = (y) => T + (1 - y / max) * (H - T - B);
    const fmt = format || ((v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString()));
    const node = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${series.map((s, i) => `${s.label} total ${fmt(values[i].reduce((a, b) => a + b, 0))}`).join(", ")}` },
      svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#d0d7de" }),
      svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#d0d7de" }),
      svg("text", { x: L - 4, y: T + 8, "text-anchor": "end", "font-size": 10, fill: "#57606a" }, fmt(max)),
      svg("text", { x: L - 4, y: H - B, "text-anchor": "end", "font-size": 10, fill: "#57606a" }, "0"),
      xs.length ? svg("text", { x: L, y: H - 6, "font-size": 10, fill: "#57606a" }, clock(x0)) : null,
      xs.length ? svg("text", { x: W - R, y: H - 6, "text-anchor": "end", "font-size": 10, fill: "#57606a" }, clock(x1)) : null,
      values.map((v, i) => svg("polyline", {
        fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
        points: v.map((y, j) => `${px(xs[j]).toFixed(1)},${py(y).toFixed(1)}`).join(" "),
      })),
      values.map((v, i) => v.map((y, j) => (y > 0 ? svg("circle", { cx: px(xs[j]).toFixed(1), cy: py(y).toFixed(1), r: 2.5, fill: COLORS[i % COLORS.length] }) : null))).flat().filter(Boolean));
    return h("figure", { class: "chart" }, h("h3", {}, title), node,
      h("div", { class: "legend" }, series.map((s, i) => {
        const span = h("span", {}, s.label);
        span.style.setProperty("--c", COLORS[i % COLORS.length]);
        return span;
      })));
  }

  function usageTab(id, path, panel) {
    const range = h("select", { id: "usage-range" },
      [["900", "Last 15 minutes"], ["3600", "Last hour"], ["21600", "Last 6 hours"], ["86400", "Last 24 hours"]]
        .map(([v, t]) => h("option", { value: v, selected: v === "3600" }, t)));
    const body = h("div", { id: "usage", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
    const load = async () => {
      const seconds = Number(range.value);
      const to = new Date(Math.ceil(Date.now() / 60000) * 60000);
      const from = new Date(to.getTime() - seconds * 1000);
      const step = Math.max(60, Math.round(seconds / 60 / 60) * 60);
      const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), step: String(step) });
      let u;
      try { u = await api("GET", `${path}/usage?${q}`); } catch (e) {
        if (e.status === 404 && routeMissing(e.body)) { replace(body, notAvailable("Usage charts")); return "stop"; }
        if (e.status !== 401) replace(body, failure(e));
        return "stop";
      }
      const b = u.buckets || [];
      const t = u.totals || {};
      const req = (x) => (x && x.requests) || {};
      const sumReq = (r) => (r.ok || 0) + (r.client_error || 0) + (r.server_error || 0) + (r.refused || 0);
      const ws = (x) => Object.values((x && x.worker_seconds) || {}).reduce((a, v) => a + Number(v || 0), 0);
      replace(body,
        h("table", { id: "usage-totals" }, h("caption", { class: "visually-hidden" }, "Totals over the range"),
          h("thead", {}, h("tr", {}, ["Requests", "OK", "Errors", "Refused", "Prompt tokens", "Completion tokens", "Cold starts", "Worker-seconds", "Cost"]
            .map((x) => h("th", { scope: "col", class: "num" }, x)))),
          h("tbody", {}, h("tr", {},
            [sumReq(req(t)), req(t).ok || 0, (req(t).client_error || 0) + (req(t).server_error || 0), req(t).refused || 0,
              t.prompt_tokens || 0, t.completion_tokens || 0, t.cold_starts || 0, ws(t).toFixed(0),
              usd(t.cost_usd ? t.cost_usd.total : 0)].map((v) => h("td", { class: "num" }, String(v)))))),
        h("h2", {}, `Per ${u.step_seconds || step} s`),
        b.length ? h("div", { class: "charts" },
          chart("Requests", b, [
            { label: "ok", value: (x) => req(x).ok }, { label: "client error", value: (x) => req(x).client_error },
            { label: "server error", value: (x) => req(x).server_error }, { label: "refused", value: (x) => req(x).refused }]),
          chart("Tokens", b, [{ label: "prompt", value: (x) => x.prompt_tokens }, { label: "completion", value: (x) => x.completion_tokens }]),
          chart("Time to first token (ms)", b, [{ label: "p50", value: (x) => x.ttft_ms && x.ttft_ms.p50 }, { label: "p95", value: (x) => x.ttft_ms && x.ttft_ms.p95 }]),
          chart("Worker-seconds", b, [{ label: "worker-seconds", value: ws }, { label: "cold starts", value: (x) => x.cold_starts }]),
          chart("Cost (USD)", b, [{ label: "total", value: (x) => x.cost_usd && x.cost_usd.total }, { label: "storage", value: (x) => x.cost_usd && x.cost_usd.storage }],
            (v) => `$${Number(v).toPrecision(2)}`))
          : h("p", { class: "card" }, "No usage in this range."));
      return null;
    };
    let timer = null;
    const loop = async () => { if ((await load()) !== "stop") timer = setTimeout(loop, 5000); };
    onLeave(() => clearTimeout(timer));
    range.addEventListener("change", () => { clearTimeout(timer); loop(); });
    replace(panel, h("div", { class: "row" }, h("label", { for: "usage-range" }, "Range"), h("div", {}, range),
      h("span", { class: "muted" }, "Refreshed every 5 seconds.")), body);
    loop();
  }

  function settingsTab(id, path, panel, setTitle) {
    const form = formState();
    const name = h("input", { type: "text", maxlength: 100 });
    const idle = h("input", { type: "text", inputmode: "numeric" });
    const wait = h("input", { type: "text", inputmode: "numeric" });
    const saved = h("div", { role: "status" });
    const save = h("button", { type: "submit", class: "primary" }, "Save changes");
    let current = null;
    const edit = h("form", { id: "settings-form", class: "card", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(form);
      replace(saved);
      const body = {};
      if (name.value !== current.name) body.name = name.value;
      if (idle.value.trim() !== String(current.idle_timeout_seconds)) body.idle_timeout_seconds = intOrNull(idle);
      if (wait.value.trim() !== String(current.wait_time_seconds)) body.wait_time_seconds = intOrNull(wait);
      if (!Object.keys(body).length) { replace(saved, h("p", { class: "notice" }, "Nothing changed.")); return; }
      save.disabled = true;
      try {
        current = await api("PATCH", path, body);
        fill(current);
        replace(saved, h("p", { class: "ok" }, "Saved."));
      } catch (e) {
        if (e.status !== 401) showProblem(form, e);
      } finally { save.disabled = false; }
    } },
    h("h2", {}, "Edit"), form.general,
    h("div", { class: "grid" },
      field(form, "name", "Name", name, null, "wide"),
      field(form, "idle_timeout_seconds", "Idle timeout (s)", idle),
      field(form, "wait_time_seconds", "Wait time (s)", wait)),
    h("p", {}, save), saved);
    const confirmBox = h("div", { id: "delete-confirm", hidden: true });
    const deleteState = h("div", { role: "status" });
    const askDelete = h("button", { type: "button", class: "danger", id: "delete", onclick: () => {
      askDelete.hidden = true;
      confirmBox.hidden = false;
      confirmButton.focus();
    } }, "Delete deployment…");
    const confirmButton = h("button", { type: "button", class: "danger", id: "delete-confirmed", onclick: async () => {
      confirmButton.disabled = true;
      try {
        await api("DELETE", path);
        replace(deleteState, h("p", { class: "ok" }, "Deletion asked for; the deployment goes deleting → deleted."));
        confirmBox.hidden = true;
        setTimeout(() => { location.hash = `#/d/${encodeURIComponent(id)}/overview`; }, 800);
      } catch (e) {
        confirmButton.disabled = false;
        if (e.status !== 401) replace(deleteState, failure(e));
      }
    } }, "Yes, delete it");
    const cancel = h("button", { type: "button", onclick: () => { confirmBox.hidden = true; askDelete.hidden = false; askDelete.focus(); } }, "Cancel");
    const confirmText = h("p", {});
    append(confirmBox, confirmText, h("div", { class: "row" }, confirmButton, cancel));
    const fill = (d) => {
      current = d;
      setTitle(d);
      name.value = d.name;
      idle.value = String(d.idle_timeout_seconds);
      wait.value = String(d.wait_time_seconds);
      replace(confirmText, h("strong", {}, `Delete “${d.name}”?`),
        " Its workers are drained and stopped, and its storage and logs are removed. This cannot be undone.");
    };
    replace(panel, h("p", { class: "muted" }, "Loading…"));
    (async () => {
      try { fill(await api("GET", path)); } catch (e) { if (e.status !== 401) replace(panel, failure(e)); return; }
      replace(panel, edit,
        h("section", { class: "card" }, h("h2", {}, "Delete"), askDelete, confirmBox, deleteState),
        current.status !== "running" ? h("p", { class: "notice" }, `Edits need a running deployment; this one is ${current.status}.`) : null);
    })();
  }

  // ---- API keys ----------------------------------------------------------------------------
  function keysView() {
    document.title = "API keys · Gantry";
    const form = formState();
    const tenant = h("input", { type: "text", maxlength: 63, placeholder: "acme" });
    const keyName = h("input", { type: "text", maxlength: 100, placeholder: "ci" });
    const admin = h("input", { type: "checkbox", id: "key-admin" });
    const shown = h("div", { id: "new-key", role: "status" });
    const list = h("div", { "aria-live": "polite" });
    const load = async () => {
      let keys;
      try { keys = await api("GET", "/api/v1/api-keys"); } catch (e) { if (e.status !== 401) replace(list, failure(e)); return; }
      replace(list, h("table", { id: "keys" },
        h("thead", {}, h("tr", {}, ["Name", "Prefix", "Tenant", "Admin", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, keys.map((k) => {
          const revoke = h("button", { type: "button" }, "Revoke…");
          const cell = h("td", {}, revoke);
          revoke.addEventListener("click", () => {
            const yes = h("button", { type: "button", class: "danger", onclick: async () => {
              try { await api("DELETE", `/api/v1/api-keys/${encodeURIComponent(k.id)}`); load(); } catch (e) { if (e.status !== 401) replace(cell, failure(e)); }
            } }, `Revoke ${k.prefix}…`);
            const no = h("button", { type: "button", onclick: () => { replace(cell, revoke); revoke.focus(); } }, "Cancel");
            replace(cell, h("div", { class: "row" }, yes, no));
            yes.focus();
          });
          return h("tr", {}, h("td", {}, k.name), h("td", {}, h("code", {}, `${k.prefix}…`)), h("td", {}, k.tenant),
            h("td", {}, k.admin ? "yes" : "no"), h("td", {}, when(k.created_at)), cell);
        }))));
    };
    const create = h("form", { id: "key-form", class: "card", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(form);
      replace(shown);
      try {
        const k = await api("POST", "/api/v1/api-keys", { tenant: tenant.value.trim(), name: keyName.value, admin: admin.checked });
        const value = h("input", { type: "text", readonly: true, class: "key-once", id: "new-key-value", value: k.key });
        replace(shown, h("div", { class: "ok" },
          h("label", { for: "new-key-value" }, `New key “${k.name}” for tenant ${k.tenant}. Copy it now: it is shown only this once.`),
          h("div", { class: "row" }, value,
            h("button", { type: "button", onclick: async () => { value.select(); try { await navigator.clipboard.writeText(k.key); } catch (e) { /* selected for manual copy */ } } }, "Copy"),
            h("button", { type: "button", onclick: () => replace(shown) }, "Done, hide it"))));
        value.select();
        keyName.value = "";
        load();
      } catch (e) {
        if (e.status !== 401) showProblem(form, e);
      }
    } },
    h("h2", {}, "Create a key ", h("span", { class: "hint" }, "(needs an admin key)")), form.general,
    h("div", { class: "grid" },
      field(form, "tenant", "Tenant", tenant),
      field(form, "name", "Name", keyName),
      h("div", {}, h("label", { for: "key-admin" }, admin, " Admin key")),
      h("div", {}, h("label", { "aria-hidden": "true" }, " "), h("button", { type: "submit", class: "primary" }, "Create key"))),
    shown);
    replace(main, h("h1", {}, "API keys"), create, h("h2", {}, "Active keys"), list);
    load();
  }

  route();
})();
