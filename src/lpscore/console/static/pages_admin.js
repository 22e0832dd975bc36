// Pages that change things or show changes: weights editor, audit log, users, decisions.
import { api, h, may, num, when } from "./util.js";

function weightsText(w) {
  return Object.entries(w || {}).map(([k, v]) => `${k} ${num(v, 3)}`).join(", ");
}

export async function weightsEditor(profile) {
  const [all, kpis, versions, contexts] = await Promise.all([
    api("/api/profiles"), api("/api/kpis"),
    api(`/api/profiles/${encodeURIComponent(profile)}/versions?limit=100`),
    api(`/api/scores/${encodeURIComponent(profile)}/contexts`)]);
  const meta = all.find((p) => p.name === profile);
  const weights = { ...meta.weights };
  const node = h("section", { id: "weights-page" });
  const table = h("tbody", {});
  const sum = h("span", { id: "weights-sum" });
  const preview = h("div", { id: "preview-area" });
  const status = h("p", { id: "save-status" });
  const comment = h("input", { id: "comment", size: 50, placeholder: "why (kept in the audit log)" });
  const context = h("select", { id: "preview-context" },
    (contexts.contexts.length ? contexts.contexts : ["*"]).map((c) => h("option", { value: c }, c)));
  const adder = h("select", { id: "add-kpi" }, kpis.map((k) => h("option", { value: k }, k)));
  let timer = null;

  function changed() {
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    sum.textContent = `sum ${num(total, 4)}`;
    sum.className = Math.abs(total - 1) > 1e-9 ? "error" : "ok";
    clearTimeout(timer);
    timer = setTimeout(runPreview, 400);
  }

  function draw() {
    table.replaceChildren(...Object.entries(weights).map(([kpi, w]) => h("tr", {},
      h("td", {}, kpi),
      h("td", {}, h("input", { type: "number", min: 0, max: 1, step: 0.05, value: w,
                               "data-kpi": kpi, "aria-label": `weight of ${kpi}`,
                               oninput: (e) => { weights[kpi] = Number(e.target.value); changed(); } })),
      h("td", {}, h("button", { type: "button", class: "secondary",
                                onclick: () => { delete weights[kpi]; draw(); changed(); } }, "remove")))));
  }

  async function runPreview() {
    try {
      const p = await api(`/api/profiles/${encodeURIComponent(profile)}/preview`,
                          { method: "POST", body: { weights, context: context.value } });
      preview.replaceChildren(h("table", { id: "preview" },
        h("thead", {}, h("tr", {}, ["LP", "Rank now", "Rank proposed", "Score now", "Score proposed"]
          .map((t) => h("th", {}, t)))),
        h("tbody", {}, p.scores.map((sc) => h("tr", { "data-lp": sc.lp },
          h("td", {}, sc.lp), h("td", {}, sc.old_rank ?? "-"),
          h("td", { class: sc.old_rank && sc.rank < sc.old_rank ? "up"
                    : sc.old_rank && sc.rank > sc.old_rank ? "down" : null }, sc.rank),
          h("td", {}, num(sc.old_score, 1)), h("td", {}, num(sc.score, 1)))))));
    } catch (err) {
      preview.replaceChildren(h("p", { class: "error", id: "preview-error" }, err.message));
    }
  }

  async function save() {
    status.className = "";
    status.textContent = "saving...";
    try {
      const r = await api(`/api/profiles/${encodeURIComponent(profile)}/versions`,
                          { method: "POST", body: { weights, comment: comment.value } });
      status.className = "ok";
      status.textContent = `saved as version ${r.version} (was ${r.previous_version}); ` +
        (r.publish_error || `${r.published} snapshot(s) republished`);
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  }

  async function rollback(version) {
    try {
      const r = await api(`/api/profiles/${encodeURIComponent(profile)}/rollback`,
                          { method: "POST", body: { version, comment: comment.value } });
      status.className = "ok";
      status.textContent = `rolled back: version ${r.version} has the weights of version ${version}`;
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  }

  node.append(h("h1", {}, `Weights: ${profile}`),
    h("div", { class: "controls" },
      h("label", {}, "Profile", h("select", { id: "weights-profile",
        onchange: (e) => { location.hash = `#/weights/${encodeURIComponent(e.target.value)}`; } },
        all.map((p) => h("option", { value: p.name, selected: p.name === profile }, p.name)))),
      h("span", { class: "muted" }, `current version ${meta.version} by ${meta.author}: ${meta.comment}`)),
    h("table", { id: "weights" }, h("thead", {}, h("tr", {}, h("th", {}, "KPI"), h("th", {}, "Weight"), h("th", {}))), table),
    h("div", { class: "controls" }, h("label", {}, "Add a KPI", adder),
      h("button", { type: "button", class: "secondary", onclick: () => {
        if (!(adder.value in weights)) { weights[adder.value] = 0; draw(); changed(); }
      } }, "Add"),
      h("button", { type: "button", class: "secondary", id: "normalise", onclick: () => {
        const total = Object.values(weights).reduce((a, b) => a + b, 0);
        if (total > 0) for (const k of Object.keys(weights)) weights[k] /= total;
        draw(); changed();
      } }, "Normalise"), sum),
    h("h2", {}, "Re-ranking preview"),
    h("div", { class: "controls" }, h("label", {}, "Context", context),
      h("button", { type: "button", id: "preview-btn", onclick: runPreview }, "Preview")),
    preview,
    h("h2", {}, "Save"),
    h("div", { class: "controls" }, h("label", {}, "Comment", comment),
      h("button", { type: "button", id: "save-btn", onclick: save }, "Save as new version")),
    may("calibrator") ? "" : h("p", { class: "muted" }, "Your role cannot save weights; the server will refuse."),
    status,
    h("h2", {}, "Versions"),
    h("table", { id: "versions" }, h("thead", {}, h("tr", {},
      ["Version", "By", "When", "Comment", "Weights", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, versions.items.map((v) => h("tr", {},
        h("td", {}, v.version), h("td", {}, v.author), h("td", {}, when(v.created_ns)),
        h("td", { class: "text" }, v.comment), h("td", { class: "text" }, weightsText(v.weights)),
        h("td", {}, v.version === meta.version ? "current" : h("button", {
          type: "button", class: "secondary", "data-version": v.version,
          onclick: () => rollback(v.version) }, "Roll back to this")))))));
  draw();
  changed();
  return { node };
}

function pager(params, page, base) {
  const offset = page.offset, limit = page.limit;
  const link = (o) => { const p = new URLSearchParams(params); p.set("offset", o); return `${base}?${p}`; };
  return h("div", { class: "pager" },
    offset > 0 ? h("a", { href: link(Math.max(0, offset - limit)) }, "newer") : null,
    h("span", { class: "muted" }, `${page.total ? offset + 1 : 0}-${Math.min(offset + limit, page.total)} of ${page.total}`),
    offset + limit < page.total ? h("a", { href: link(offset + limit) }, "older") : null);
}

export async function auditLog(params) {
  const q = new URLSearchParams();
  for (const k of ["user", "action", "target", "offset"]) if (params.get(k)) q.set(k, params.get(k));
  q.set("limit", "50");
  const page = await api(`/api/audit?${q}`);
  const filter = (name) => h("label", {}, name, h("input", { name, value: params.get(name) || "", size: 14 }));
  const form = h("form", { class: "controls" }, filter("user"), filter("action"), filter("target"),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = `#/audit?${p}`;
  });
  const describe = (x) => (x && x.weights ? `v${x.version}: ${weightsText(x.weights)}`
                                           : x === null ? "" : JSON.stringify(x));
  const node = h("section", { id: "audit-page" }, h("h1", {}, "Audit log"), form,
    h("table", { id: "audit" }, h("thead", {}, h("tr", {},
      ["When (UTC)", "Who", "Action", "Target", "Old", "New", "Comment"].map((t) => h("th", { class: "text" }, t)))),
      h("tbody", {}, page.items.map((e) => h("tr", {},
        h("td", { class: "text" }, when(e.ts_ns)), h("td", { class: "text" }, e.user),
        h("td", { class: "text" }, e.action), h("td", { class: "text" }, e.target),
        h("td", { class: "text" }, describe(e.old)), h("td", { class: "text" }, describe(e.new)),
        h("td", { class: "text" }, e.comment))))),
    pager(q, page, "#/audit"));
  return { node, refresh: null };
}

// When a decision was made: its ISO time to the millisecond (the journal keeps nanoseconds).
function decidedAt(d) {
  if (typeof d.ts === "string") return d.ts.replace("T", " ").slice(0, 23);
  return typeof d.ts_ns === "number" ? when(d.ts_ns) : "-";
}

// One journal record; hand-written lines may lack fields or shape them differently.
function decisionRow(d) {
  const children = Array.isArray(d.children) ? d.children : [];
  const context = typeof d.context === "string" ? d.context : JSON.stringify(d.context ?? "");
  return h("tr", { "data-symbol": d.symbol ?? "" },
    h("td", { class: "text nowrap" }, decidedAt(d)), h("td", { class: "text" }, d.symbol ?? "-"),
    h("td", { class: "text" }, d.side ?? "-"), h("td", {}, d.qty == null ? "-" : num(d.qty, 0)),
    h("td", { class: "text" }, d.policy ?? ""), h("td", { class: "text" }, d.profile ?? ""),
    h("td", { class: "text" }, context),
    h("td", { class: "text" }, d.stale ? h("span", { class: "flag" }, "stale") : "no"),
    h("td", { class: "text" },
      children.length ? h("ul", { class: "children" }, children.map((c) => h("li", { "data-lp": c.lp },
        h("strong", {}, c.lp), ` ${num(c.qty, 0)}: `, h("span", { class: "muted" }, c.reason))))
        : h("span", { class: "muted" }, "nothing routed"),
      d.unrouted > 0 ? h("div", { class: "muted" }, `unrouted ${num(d.unrouted, 0)}`) : null,
      d.fallback ? h("div", { class: "muted" }, `fallback: ${d.fallback}`) : null));
}

// The decision journal (DIR/decisions.jsonl), newest first; new decisions arrive over the
// events channel (`decision`) and redraw the page.
export async function decisions(params) {
  const q = new URLSearchParams();
  for (const k of ["lp", "profile", "offset"]) if (params.get(k)) q.set(k, params.get(k));
  q.set("limit", "50");
  const filter = (name) => h("label", {}, name, h("input", { name, value: params.get(name) || "", size: 14 }));
  const form = h("form", { class: "controls" }, filter("lp"), filter("profile"),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = `#/decisions?${p}`;
  });
  const body = h("div", {});
  const node = h("section", { id: "decisions-page" }, h("h1", {}, "Routing decisions"), form, body);

  async function load() {
    const page = await api(`/api/decisions?${q}`);
    body.replaceChildren(
      page.malformed ? h("p", { class: "error", id: "decisions-malformed" },
        `${page.malformed} malformed line(s) in decisions.jsonl skipped`) : "",
      page.total === 0 ? h("p", { class: "muted", id: "decisions-empty" },
        "No routing decisions yet: `lpscore route ... --decisions DIR/decisions.jsonl` appends them.")
        : h("table", { id: "decisions" }, h("thead", {}, h("tr", {},
          ["Time (UTC)", "Symbol", "Side", "Qty", "Policy", "Profile", "Context", "Stale",
           "Children: LP, qty, reason"].map((t) => h("th", { class: t === "Qty" ? null : "text" }, t)))),
          h("tbody", {}, page.items.map(decisionRow))),
      pager(q, page, "#/decisions"));
  }
  // a live update that fails says so on the page (the first load's error goes to route())
  const refresh = () => load().catch((err) => body.replaceChildren(h("p", { class: "error" }, err.message)));
  await load();
  return { node, refresh, on: ["decision"] };
}

export async function users() {
  const list = await api("/api/users");
  const status = h("p", { id: "users-status" });
  const form = h("form", { class: "controls", id: "add-user" },
    h("label", {}, "User name", h("input", { name: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password", required: true,
                                            autocomplete: "new-password" })),
    h("label", {}, "Role", h("select", { name: "role" }, ["viewer", "calibrator", "admin"].map((r) => h("option", { value: r }, r)))),
    h("button", { type: "submit" }, "Add user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    try {
      await api("/api/users", { method: "POST", body: { username: d.get("username"), password: d.get("password"), role: d.get("role") } });
      location.reload();
    } catch (err) { status.className = "error"; status.textContent = err.message; }
  });
  const setRole = async (name, role) => {
    try {
      await api(`/api/users/${encodeURIComponent(name)}`, { method: "PATCH", body: { role } });
      status.className = "ok"; status.textContent = `${name} is now ${role}`;
    } catch (err) { status.className = "error"; status.textContent = err.message; }
  };
  const node = h("section", { id: "users-page" }, h("h1", {}, "Users"),
    h("table", { id: "users" }, h("thead", {}, h("tr", {}, ["User", "Role", "Since"].map((t) => h("th", { class: "text" }, t)))),
      h("tbody", {}, list.map((u) => h("tr", {}, h("td", { class: "text" }, u.username),
        h("td", { class: "text" }, h("select", { onchange: (e) => setRole(u.username, e.target.value) },
          ["viewer", "calibrator", "admin"].map((r) => h("option", { value: r, selected: r === u.role }, r)))),
        h("td", { class: "text" }, when(u.created_ns)))))),
    h("h2", {}, "Add a user"), form, status);
  return { node };
}
