// Read-only pages: leaderboard, LP page, side-by-side comparison.
import { barChart, contributionBar, intervalBar, lineChart } from "./charts.js";
import { api, h, legend, num, pct } from "./util.js";

async function profiles() { return api("/api/profiles"); }

export async function leaderboard(profile, context) {
  const node = h("section", { id: "leaderboard-page" });
  const all = await profiles();
  const contexts = (await api(`/api/scores/${encodeURIComponent(profile)}/contexts`)).contexts;
  const go = (p, c) => { location.hash = `#/?profile=${encodeURIComponent(p)}&context=${encodeURIComponent(c)}`; };
  const pick = h("select", { id: "profile", onchange: (e) => go(e.target.value, "*") },
    all.map((p) => h("option", { value: p.name, selected: p.name === profile }, p.name)));
  const ctx = h("select", { id: "context", onchange: (e) => go(profile, e.target.value) },
    (contexts.length ? contexts : ["*"]).map((c) =>
      h("option", { value: c, selected: c === context }, c === "*" ? "* (all orders)" : c)));
  const body = h("div", {});
  node.append(h("h1", {}, "Leaderboard"),
    h("div", { class: "controls" }, h("label", {}, "Profile", pick),
      h("label", {}, "Context", ctx)), body);

  async function refresh() {
    let snap;
    try {
      snap = await api(`/api/scores/${encodeURIComponent(profile)}?context=${encodeURIComponent(context)}`);
    } catch (err) {
      body.replaceChildren(h("p", { class: "muted" }, err.message));
      return;
    }
    const meta = all.find((p) => p.name === profile);
    const kpis = Object.keys(meta ? meta.weights : {});
    const rows = snap.scores.map((sc) => h("tr", { "data-lp": sc.lp,
                                                   class: sc.provisional ? "provisional" : null },
      h("td", {}, sc.rank),
      h("td", { class: "text" }, h("a", { href: `#/lp/${encodeURIComponent(sc.lp)}` }, sc.lp),
        sc.provisional ? h("span", { class: "flag" }, "provisional") : null),
      h("td", { class: "score" }, num(sc.score, 1)),
      h("td", {}, sc.ci_low === null || sc.ci_high === null ? "pending"
                                                           : `${num(sc.ci_low, 1)} - ${num(sc.ci_high, 1)}`),
      h("td", {}, intervalBar(sc.score, sc.ci_low, sc.ci_high)),
      h("td", {}, sc.n_orders.toLocaleString("en-US")),
      h("td", {}, num(sc.n_eff, 1)),
      h("td", { class: "text" }, contributionBar(sc.contributions, kpis))));
    body.replaceChildren(
      h("p", { class: "muted", id: "snapshot-meta" },
        `${profile} version ${snap.version}${meta ? `, weights v${meta.version}` : ""}, ` +
        `computed ${new Date(snap.computed_at_ns / 1e6).toISOString()}` +
        (snap.stale ? " (STALE: the store has not answered lately)" : "")),
      h("table", { id: "leaderboard" },
        h("thead", {}, h("tr", {}, ["Rank", "LP", "Score", `${Math.round(snap.interval * 100)}% interval`,
          "", "Orders", "n_eff", "Contributions"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows)),
      legend(kpis));
  }
  await refresh();
  return { node, refresh };
}

const TREND_KPIS = { fill_rate: "Fill rate", reject_rate: "Reject rate", pi_bps: "Price improvement (bps)",
  eff_spread_bps: "Effective spread (bps)", n_orders: "Orders", ack_latency_ms: "Ack latency p50 (ms)" };

function trendValue(row, kpi) {
  if (kpi === "ack_latency_ms") return row.ack_latency_ms.p50;
  return row[kpi];
}

function trendCard(lp, title, buckets, initial) {
  const card = h("div", { class: "card" });
  let bucket = initial, kpi = "fill_rate";
  async function draw() {
    const page = await api(`/api/lps/${encodeURIComponent(lp)}/series?bucket=${bucket}`);
    const labels = page.items.map((r) => (bucket === "1d" ? r.period.slice(0, 10) : r.period.slice(11, 16)));
    const fmt = kpi.endsWith("rate") ? pct : (v) => num(v, 2);
    card.replaceChildren(h("h2", {}, title),
      h("div", { class: "controls" },
        buckets.length > 1 ? h("select", { onchange: (e) => { bucket = e.target.value; draw(); } },
          buckets.map((b) => h("option", { value: b, selected: b === bucket }, b))) : null,
        h("select", { onchange: (e) => { kpi = e.target.value; draw(); } },
          Object.entries(TREND_KPIS).map(([k, t]) => h("option", { value: k, selected: k === kpi }, t)))),
      lineChart(labels, [{ name: `${lp} ${TREND_KPIS[kpi]}`, values: page.items.map((r) => trendValue(r, kpi)) }],
                { fmt, title }));
  }
  draw();
  return card;
}

export async function lpPage(lp) {
  const d = await api(`/api/lps/${encodeURIComponent(lp)}`);
  const k = d.kpis;
  const rows = [["Orders", k.n_orders, null, (v) => v], ["Fill rate", k.fill_rate, d.peers.fill_rate, pct],
    ["Complete fills", k.complete_fill_rate, d.peers.complete_fill_rate, pct],
    ["Reject rate", k.reject_rate, d.peers.reject_rate, pct],
    ["Price improvement (bps)", k.pi_bps, d.peers.pi_bps, num],
    ["Effective spread (bps)", k.eff_spread_bps, d.peers.eff_spread_bps, num],
    ["Ack latency p50 (ms)", k.ack_latency_ms.p50, d.peers.ack_latency_ms_p50, (v) => num(v, 3)],
    ["Fill latency p50 (ms)", k.fill_latency_ms.p50, d.peers.fill_latency_ms_p50, (v) => num(v, 3)]];
  const lps = Object.keys(d.markouts);
  const hist = (metric, title) => {
    const hg = d.latency[metric];
    const labels = hg.edges.slice(0, -1).map((e) => num(e, 2));
    const peers = labels.map((_, i) => lps.filter((x) => x !== lp)
      .reduce((acc, x) => acc + ((hg.counts[x] || [])[i] || 0), 0));
    return h("div", { class: "card" }, h("h2", {}, title),
      barChart(labels, [{ name: lp, values: hg.counts[lp] || labels.map(() => 0) },
                        { name: "peers", values: peers }], { fmt: (v) => num(v, 0), title }));
  };
  const reasons = Object.entries(k.reject_reasons || {});
  const node = h("section", { id: "lp-page" },
    h("h1", {}, `LP ${lp}`),
    h("p", {}, Object.entries(d.scores).map(([p, sc]) =>
      h("span", { class: "muted", style: "margin-right:1.5em" },
        `${p}: ${sc ? `${num(sc.score, 1)} (rank ${sc.rank}${sc.provisional ? ", provisional" : ""})` : "-"}`)),
      h("a", { href: `#/compare?${lps.map((x) => `lp=${encodeURIComponent(x)}`).join("&")}` }, "Compare with peers")),
    h("table", { id: "lp-kpis" }, h("thead", {}, h("tr", {}, ["KPI", lp, "Peers (median)"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map(([name, v, p, f]) => h("tr", {}, h("td", {}, name), h("td", {}, f(v)),
        h("td", {}, p === null ? "" : f(p)))))),
    h("div", { class: "grid" },
      trendCard(lp, "Daily trend", ["1d"], "1d"),
      trendCard(lp, "Intraday trend", ["1h", "15m", "5m", "1m"], "5m"),
      h("div", { class: "card", id: "markouts" }, h("h2", {}, "Markout curve (bps)"),
        lineChart(d.horizons, lps.map((x) => ({ name: x, values: d.horizons.map((hz) => d.markouts[x][hz]) })),
                  { title: "markouts" })),
      hist("ack_latency_ms", "Ack latency (ms)"),
      hist("fill_latency_ms", "Fill latency (ms)"),
      h("div", { class: "card" }, h("h2", {}, "Fill rate by size bucket"),
        barChart(d.fill_by_size.map((r) => r.size_bucket),
                 [{ name: lp, values: d.fill_by_size.map((r) => r.fill_rate) },
                  { name: "peers (median)", values: d.fill_by_size.map((r) => r.peer_fill_rate) }],
                 { fmt: pct, title: "fill rate by size" })),
      h("div", { class: "card" }, h("h2", {}, "Reject reasons"),
        reasons.length ? barChart(reasons.map(([r]) => r), [{ name: lp, values: reasons.map(([, n]) => n) }],
                                  { fmt: (v) => num(v, 0), title: "reject reasons" })
          : h("p", { class: "muted" }, "No rejects."))));
  return { node };
}

export async function compareLps(wanted) {
  const all = (await api("/api/lps?limit=500")).items.map((r) => r.lp);
  const chosen = wanted.length ? wanted : all.slice(0, 2);
  const boxes = all.map((lp) => h("label", { style: "flex-direction:row" },
    h("input", { type: "checkbox", value: lp, checked: chosen.includes(lp) }), lp));
  const node = h("section", { id: "compare-page" }, h("h1", {}, "Compare LPs"),
    h("div", { class: "controls" }, boxes, h("button", { type: "button", onclick: () => {
      const picked = boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value);
      location.hash = `#/compare?${picked.map((x) => `lp=${encodeURIComponent(x)}`).join("&")}`;
    } }, "Compare")));
  if (chosen.length < 1) return { node };
  const q = chosen.map((x) => `lp=${encodeURIComponent(x)}`).join("&");
  const d = await api(`/api/compare?${q}`);
  const lines = [["Orders", (r) => r.n_orders], ["Fill rate", (r) => pct(r.fill_rate)],
    ["Reject rate", (r) => pct(r.reject_rate)], ["Price improvement (bps)", (r) => num(r.pi_bps)],
    ["Effective spread (bps)", (r) => num(r.eff_spread_bps)],
    ["Ack latency p50 (ms)", (r) => num(r.ack_latency_ms.p50, 3)]];
  const profilesSeen = Object.keys(d.scores[chosen[0]] || {});
  node.append(h("table", { id: "compare" },
    h("thead", {}, h("tr", {}, h("th", {}, "KPI"), d.lps.map((x) => h("th", {}, x)))),
    h("tbody", {},
      profilesSeen.map((p) => h("tr", {}, h("td", {}, `score (${p})`),
        d.lps.map((x) => h("td", {}, d.scores[x][p] ? num(d.scores[x][p].score, 1) : "-")))),
      lines.map(([name, f]) => h("tr", {}, h("td", {}, name), d.rows.map((r) => h("td", {}, f(r))))))),
    h("div", { class: "grid" }, h("div", { class: "card" }, h("h2", {}, "Markout curves (bps)"),
      lineChart(d.horizons, d.rows.map((r) => ({ name: r.lp, values: d.horizons.map((hz) => r.markout_bps[hz]) }))))));
  return { node };
}
