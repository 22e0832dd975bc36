// The console's entry point: session, login page, hash routing, live updates.
import { api, ApiError, h, may, state } from "./util.js";
import { compareLps, leaderboard, lpPage } from "./pages_scores.js";
import { auditLog, decisions, users, weightsEditor } from "./pages_admin.js";

const main = document.getElementById("main");
const live = document.getElementById("live");
let current = null;   // the page's live updates, if any: { refresh(), on: [event names] }
let routed = 0;       // only the latest navigation may fill the page

function show(...nodes) { main.replaceChildren(...nodes); }

function loginPage(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  const error = h("p", { class: "error", id: "login-error" }, message || "");
  const form = h("form", { class: "login", id: "login-form" },
    h("h1", {}, "Log in"),
    h("label", {}, "User name", h("input", { name: "username", autocomplete: "username",
                                             required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password",
                                            autocomplete: "current-password", required: true })),
    h("button", { type: "submit" }, "Log in"), error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    try {
      const session = await api("/api/login", { method: "POST", body: {
        username: data.get("username"), password: data.get("password") } });
      Object.assign(state, { user: session.user, role: session.role, csrf: session.csrf });
      started();
      if (!location.hash || location.hash === "#/login") location.hash = "#/";
      else route();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  show(form);
}

function started() {
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-users").hidden = !may("admin");
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${state.user} (${state.role})`;
  listen();
}

let source = null;
function listen() {
  if (source) return;
  source = new EventSource("/api/events");
  const refresh = (kind, what) => {
    live.textContent = `${new Date().toLocaleTimeString()}: ${what}`;
    if (current && current.on.includes(kind)) current.refresh();
  };
  source.addEventListener("score", (ev) => {
    const d = JSON.parse(ev.data);
    refresh("score", `new scores: ${d.profile} ${d.context} version ${d.version}`);
  });
  source.addEventListener("change", () => refresh("change", "a change was saved"));
  source.addEventListener("decision", (ev) => {
    const d = JSON.parse(ev.data);
    refresh("decision", `routing decisions: ${d.total}`);
  });
}

async function route() {
  if (!state.user) return loginPage();
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  current = null;
  const mine = ++routed;
  try {
    let page;
    if (parts[0] === "lp" && parts[1]) page = await lpPage(parts[1]);
    else if (parts[0] === "compare") page = await compareLps(params.getAll("lp"));
    else if (parts[0] === "weights") page = await weightsEditor(parts[1] || "block");
    else if (parts[0] === "audit") page = await auditLog(params);
    else if (parts[0] === "decisions") page = await decisions(params);
    else if (parts[0] === "users") page = await users();
    else page = await leaderboard(params.get("profile") || "block",
                                  params.get("context") || "*");
    if (mine !== routed) return;
    show(page.node);
    // pages that say nothing follow new scores and changes (the leaderboard)
    current = page.refresh ? { refresh: page.refresh, on: page.on || ["score", "change"] } : null;
  } catch (err) {
    if (mine !== routed) return;
    if (err instanceof ApiError && err.status === 401) {
      state.user = null;
      return loginPage("Your session ended: log in again.");
    }
    show(h("p", { class: "error" }, err.message));
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/api/logout", { method: "POST" }); } catch (err) { /* ended anyway */ }
  Object.assign(state, { user: null, role: null, csrf: null });
  if (source) { source.close(); source = null; }
  loginPage("Logged out.");
});

window.addEventListener("hashchange", route);

(async () => {
  try {
    const session = await api("/api/session");
    Object.assign(state, { user: session.user, role: session.role, csrf: session.csrf });
    started();
    route();
  } catch (err) {
    loginPage();
  }
})();
