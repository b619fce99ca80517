// Vigil's dashboard: a page per hash route, drawn from the API with the token the user logs in
// with (kept in sessionStorage, sent as a bearer token). No library, no inline code: the page's
// Content-Security-Policy allows this file and app.css only (docs/dashboard.md).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "vigil-token";
let whoami = null;

// ---- DOM helpers -----------------------------------------------------------------------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "—";
}

function number(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

function percent(share) {
  return share === null || share === undefined ? "—" : `${Math.round(share * 100)}%`;
}

function link(hash, text) {
  return el("a", { href: hash, text });
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || text}`, text });
}

// ---- API ---------------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized("no token");
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (answer.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Unauthorized("the token was refused");
  }
  const body = answer.status === 204 ? null : await answer.json();
  if (!answer.ok) {
    const message = body && body.error ? `${body.error.code}: ${body.error.message}` : answer.statusText;
    throw new Error(`${answer.status} ${message}`);
  }
  return body;
}

// ---- charts ------------------------------------------------------------------------------

const CHART = { width: 900, height: 140, left: 48, right: 12, top: 10, bottom: 22 };

function xScale(count) {
  const span = CHART.width - CHART.left - CHART.right;
  return (i) => CHART.left + (count <= 1 ? span / 2 : (i * span) / (count - 1));
}

function yScale(lo, hi) {
  const span = CHART.height - CHART.top - CHART.bottom;
  const range = hi - lo || 1;
  return (v) => CHART.top + span - ((v - lo) * span) / range;
}

// A line chart of `series` ({name, values}) over the windows; `marks` are {index, kind, title}
// drawn as ticks on the x axis (decisions and alerts on the same timeline).
function lineChart(title, series, count, marks = [], bounds = null) {
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
  let [lo, hi] = bounds || [Math.min(...values), Math.max(...values)];
  if (!values.length) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const x = xScale(count);
  const y = yScale(lo, hi);
  const chart = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${CHART.width} ${CHART.height}`,
    role: "img",
    "aria-label": title,
  });
  chart.append(
    svg("line", { class: "axis", x1: CHART.left, x2: CHART.width - CHART.right, y1: y(lo), y2: y(lo) }),
    svg("text", { class: "tick", x: CHART.left - 4, y: y(hi) + 4, "text-anchor": "end", text: number(hi, 3) }),
    svg("text", { class: "tick", x: CHART.left - 4, y: y(lo), "text-anchor": "end", text: number(lo, 3) }),
  );
  series.forEach((s, k) => {
    let path = "";
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      path += `${path && s.values[i - 1] !== null ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    chart.append(svg("path", { class: `series s${k % 8}`, d: path }, svg("title", { text: s.name })));
  });
  for (const mark of marks) {
    chart.append(
      svg("line", {
        class: `mark ${mark.kind}`,
        x1: x(mark.index), x2: x(mark.index),
        y1: CHART.height - CHART.bottom, y2: CHART.height - CHART.bottom + 8,
      }, svg("title", { text: mark.title })),
    );
  }
  const legend = el("div", { class: "legend" },
    series.map((s, k) => el("span", { class: `key s${k % 8}`, text: s.name })));
  return el("figure", {}, el("figcaption", { text: title }), chart, series.length > 1 ? legend : null);
}

// Columns × windows: a cell per column and window, red where the column drifted.
function heatMap(timeline) {
  const { columns, windows } = timeline;
  const labelWidth = 170;
  // Cells fill the width for short histories and stay clickable for long ones.
  const cell = Math.max(6, Math.min(28, Math.floor((1100 - labelWidth) / Math.max(windows.length, 1))));
  const width = labelWidth + Math.max(windows.length, 1) * cell;
  const height = columns.length * cell + 4;
  const map = svg("svg", {
    class: "heatmap", id: "heatmap",
    viewBox: `0 0 ${width} ${height}`, width, height,
    role: "img", "aria-label": "drift by column and window",
  });
  columns.forEach((column, row) => {
    map.append(svg("text", { class: "label", x: labelWidth - 6, y: row * cell + cell / 2 + 4, "text-anchor": "end", text: column }));
    windows.forEach((window, i) => {
      const value = window.cells[row];
      const state = !value ? "none" : value.drifted === null ? "failed" : value.drifted ? "drifted" : "stable";
      const rect = svg("rect", {
        class: `cell ${state}`,
        x: labelWidth + i * cell, y: row * cell, width: cell - 1, height: cell - 1,
        "data-column": column, "data-window": String(window.id),
        onclick: () => { location.hash = `#/evaluations/${window.id}`; },
      }, svg("title", {
        text: `${column}, window ending at offset ${window.window_end}: ${state}` +
          (value ? `, statistic ${number(value.statistic)}, p ${number(value.p_value)}` : ""),
      }));
      map.append(rect);
    });
  });
  return el("div", { class: "scroll" }, map);
}

function sparkline(shares) {
  const width = 160;
  const height = 28;
  const line = svg("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, width, height });
  let path = "";
  shares.forEach((share, i) => {
    if (share === null) return;
    const x = shares.length <= 1 ? width / 2 : (i * (width - 2)) / (shares.length - 1) + 1;
    const y = height - 2 - share * (height - 4);
    path += `${path ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
  });
  line.append(svg("path", { class: "series s0", d: path }));
  return line;
}

// One feature's window beside its reference, as shares of each side: overlaid histograms on
// shared bins for a numeric feature, grouped bars for a categorical one (new and vanished
// categories named).
function distributionChart(column) {
  const width = 440;
  const height = 170;
  const [left, right, top, bottom] = [8, 8, 8, 34];
  const chart = svg("svg", {
    class: "chart distribution", viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": `${column.name}: reference and window`,
    "data-column": column.name,
  });
  const figure = el("figure", { class: "distribution" }, el("figcaption", { text: column.name }), chart);
  const total = (counts) => counts.reduce((a, b) => a + b, 0) || 1;
  const plotHeight = height - top - bottom;
  if (column.kind === "empty") {
    chart.append(svg("text", { class: "tick", x: width / 2, y: height / 2, "text-anchor": "middle", text: "no values on a side" }));
    return figure;
  }
  let bars;
  if (column.kind === "numeric") {
    const [r, c] = [total(column.reference), total(column.current)];
    bars = column.reference.map((count, i) => ({ label: null, reference: count / r, current: column.current[i] / c }));
  } else {
    const rows = column.categories.slice();
    if (column.other) rows.push({ label: `${column.other.categories} others`, reference: column.other.reference, current: column.other.current });
    const [r, c] = [total(rows.map((x) => x.reference)), total(rows.map((x) => x.current))];
    bars = rows.map((x) => ({ label: x.label, reference: x.reference / r, current: x.current / c,
      note: x.reference === 0 ? "new" : x.current === 0 ? "gone" : null }));
  }
  const highest = Math.max(...bars.flatMap((b) => [b.reference, b.current]), 1e-9);
  const step = (width - left - right) / Math.max(bars.length, 1);
  const y = (share) => top + plotHeight - (share * plotHeight) / highest;
  bars.forEach((bar, i) => {
    const x = left + i * step;
    if (column.kind === "numeric") {
      for (const side of ["reference", "current"]) {
        chart.append(svg("rect", { class: `bar ${side}`, x: x.toFixed(1), y: y(bar[side]).toFixed(1),
          width: Math.max(step - 0.5, 0.5).toFixed(1), height: (top + plotHeight - y(bar[side])).toFixed(1) }));
      }
    } else {
      const half = Math.max(step / 2 - 1, 0.5);
      chart.append(
        svg("rect", { class: "bar reference", x: x.toFixed(1), y: y(bar.reference).toFixed(1), width: half.toFixed(1),
          height: (top + plotHeight - y(bar.reference)).toFixed(1) }, svg("title", { text: `${bar.label}: reference ${percent(bar.reference)}` })),
        svg("rect", { class: "bar current", x: (x + half).toFixed(1), y: y(bar.current).toFixed(1), width: half.toFixed(1),
          height: (top + plotHeight - y(bar.current)).toFixed(1) }, svg("title", { text: `${bar.label}: window ${percent(bar.current)}` })),
        svg("text", { class: "tick", x: (x + step / 2).toFixed(1), y: height - bottom + 12, "text-anchor": "middle",
          text: String(bar.label).slice(0, 10) }),
      );
      if (bar.note) {
        chart.append(svg("text", { class: `tick note ${bar.note}`, x: (x + step / 2).toFixed(1), y: height - bottom + 24,
          "text-anchor": "middle", text: bar.note }));
      }
    }
  });
  chart.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }));
  if (column.kind === "numeric") {
    const edges = column.edges;
    chart.append(
      svg("text", { class: "tick", x: left, y: height - bottom + 12, text: (column.clipped_low ? "≤ " : "") + number(edges[0], 3) }),
      svg("text", { class: "tick", x: width - right, y: height - bottom + 12, "text-anchor": "end",
        text: (column.clipped_high ? "≥ " : "") + number(edges[edges.length - 1], 3) }),
    );
  }
  figure.append(el("div", { class: "legend" },
    el("span", { class: "key reference", text: "reference" }), el("span", { class: "key current", text: "window" })));
  return figure;
}

// A table whose columns sort when their header is clicked.
function sortableTable(headers, rows, id) {
  const body = el("tbody");
  const table = el("table", { class: "sortable", id });
  let order = { index: -1, up: true };
  const fill = () => {
    body.replaceChildren(...rows.map((row) => el("tr", {}, row.map((c) => el("td", {}, c.node)))));
  };
  const head = el("tr", {}, headers.map((header, index) => el("th", {
    text: header,
    onclick: () => {
      order = { index, up: order.index === index ? !order.up : true };
      rows.sort((a, b) => {
        const [p, q] = [a[index].key, b[index].key];
        const cmp = p === q ? 0 : p === null ? 1 : q === null ? -1 : p < q ? -1 : 1;
        return order.up ? cmp : -cmp;
      });
      fill();
    },
  })));
  table.append(el("thead", {}, head), body);
  fill();
  return table;
}

function cellOf(node, key = null) {
  return { node: node instanceof Node ? node : document.createTextNode(String(node)), key };
}

// ---- pages -------------------------------------------------------------------------------

async function monitorsPage(page) {
  const status = await api("/v1/status");
  page.append(el("h1", { text: "Monitors" }));
  if (!status.monitors.length) {
    page.append(el("p", { text: "No monitor yet: create one with `vigil monitor create -f monitor.toml`." }));
    return;
  }
  const timelines = await Promise.all(status.monitors.map((m) =>
    api(`/v1/monitors/${encodeURIComponent(m.monitor)}/timeline?limit=50`)));
  const rows = status.monitors.map((m, i) => {
    const last = m.last_evaluation;
    const state = m.stalled ? "stalled" : m.evaluating ? "evaluating" : m.quarantined.length ? "degraded" : "ok";
    return el("tr", { "data-monitor": m.monitor },
      el("td", {}, link(`#/monitors/${encodeURIComponent(m.monitor)}`, m.monitor)),
      el("td", { text: m.model || "—" }),
      el("td", {}, badge(state)),
      el("td", { text: last ? `${last.window_start}–${last.window_end} · ${time(last.finished_at)}` : "no window yet" }),
      el("td", {}, sparkline(timelines[i].windows.map((w) => w.drifted_share))),
      el("td", {}, last ? badge(last.action) : "—"),
      el("td", { text: m.open_alerts.join(", ") || "none" }),
      el("td", { text: m.quarantined.map((q) => q.plugin).join(", ") || "none" }),
      el("td", { text: String(m.pending_records) }),
    );
  });
  page.append(el("table", { id: "monitors" },
    el("thead", {}, el("tr", {}, ["monitor", "model", "state", "last window", "drift share (last 50)",
      "last decision", "open alerts", "quarantined plugins", "pending records"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows)));
}

async function monitorPage(page, name, before) {
  const query = before ? `?limit=200&before=${before}` : "?limit=200";
  const [monitor, timeline] = await Promise.all([
    api(`/v1/monitors/${encodeURIComponent(name)}`),
    api(`/v1/monitors/${encodeURIComponent(name)}/timeline${query}`),
  ]);
  const windows = timeline.windows;
  page.append(
    el("h1", { text: `Monitor ${monitor.name}` }),
    el("p", { class: "meta", text: `model ${monitor.spec.model} · revision ${monitor.revision} · ` +
      `${windows.length} windows shown (newest on the right)` }),
  );
  if (timeline.next_before) {
    page.append(link(`#/monitors/${encodeURIComponent(name)}?before=${timeline.next_before}`, "← older windows"));
  }
  if (!windows.length) {
    page.append(el("p", { text: "No evaluated window yet." }));
    return;
  }
  const index = new Map(windows.map((w, i) => [w.id, i]));
  const marks = windows
    .map((w, i) => ({ index: i, kind: w.action, title: `${w.action}: ${w.reason}` }))
    .filter((m) => m.kind !== "none");
  for (const alert of timeline.alerts) {
    if (index.has(alert.evaluation_id)) {
      marks.push({ index: index.get(alert.evaluation_id), kind: "alert-raised", title: `${alert.cause}: ${alert.message}` });
    }
  }
  page.append(el("h2", { text: "Drift by column" }), heatMap(timeline));
  page.append(lineChart("Share of drifted columns, with decisions and alerts", [
    { name: "drifted share", values: windows.map((w) => w.drifted_share) },
  ], windows.length, marks, [0, 1]));
  page.append(el("h2", { text: "Each column's statistic" }));
  timeline.columns.forEach((column, c) => {
    page.append(lineChart(column, [
      { name: "statistic", values: windows.map((w) => (w.cells[c] ? w.cells[c].statistic : null)) },
    ], windows.length, marks));
  });
  if (timeline.metrics.length) {
    page.append(el("h2", { text: "Model metrics" }));
    page.append(lineChart("metrics", timeline.metrics.map((metric, m) => ({
      name: metric, values: windows.map((w) => w.metrics[m]),
    })), windows.length, marks));
  }
  page.append(el("h2", { text: "Windows" }), el("table", { id: "windows" },
    el("thead", {}, el("tr", {}, ["evaluation", "records", "finished", "status", "decision", "drift share"]
      .map((h) => el("th", { text: h })))),
    el("tbody", {}, [...windows].reverse().map((w) => el("tr", {},
      el("td", {}, link(`#/evaluations/${w.id}`, String(w.id))),
      el("td", { text: `${w.window_start}–${w.window_end}` }),
      el("td", { text: time(w.finished_at) }),
      el("td", {}, badge(w.status)),
      el("td", {}, badge(w.action), " ", w.reason),
      el("td", { text: percent(w.drifted_share) }))))));
}

async function evaluationPage(page, id) {
  const evaluation = await api(`/v1/evaluations/${id}`);
  const record = evaluation.result;
  const columns = record.columns || [];
  const tested = columns.filter((c) => c.drifted !== null);
  const drifted = tested.filter((c) => c.drifted).length;
  page.append(
    el("h1", { text: `Evaluation ${evaluation.id}` }),
    el("dl", { class: "summary" },
      el("dt", { text: "window" }), el("dd", { text: `records ${evaluation.window_start}–${evaluation.window_end}` }),
      el("dt", { text: "finished" }), el("dd", { text: time(evaluation.finished_at) }),
      el("dt", { text: "status" }), el("dd", {}, badge(evaluation.status)),
      el("dt", { text: "decision" }), el("dd", {}, badge(evaluation.action), " ", evaluation.reason),
      el("dt", { text: "drifted" }), el("dd", { text: `${drifted} of ${tested.length} columns (${percent(tested.length ? drifted / tested.length : null)})` }),
    ),
  );
  const rows = columns.concat(record.multivariate || []).map((c) => [
    cellOf(c.name, c.name),
    cellOf(c.kind || "multivariate", c.kind || "multivariate"),
    cellOf(c.test, c.test),
    cellOf(number(c.statistic), c.statistic),
    cellOf(number(c.p_value), c.p_value),
    cellOf(number(c.threshold), c.threshold),
    cellOf(c.drifted === null ? badge("failed") : badge(c.drifted ? "drifted" : "stable"),
      c.drifted === null ? 2 : c.drifted ? 1 : 0),
    cellOf(c.missing === undefined ? "—" : String(c.missing), c.missing === undefined ? null : c.missing),
  ]);
  page.append(sortableTable(["column", "kind", "test", "statistic", "p-value", "threshold", "verdict", "missing"], rows, "columns"));
  page.append(el("h2", { text: "Distributions (features before preprocessing)" }));
  const plots = el("div", { class: "distributions", id: "distributions" });
  page.append(plots);
  try {
    const { columns: features } = await api(`/v1/evaluations/${id}/distributions`);
    plots.append(...features.map(distributionChart));
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    plots.append(el("p", { class: "meta", text: `No plots: ${error.message}` }));
  }
  if ((record.metrics || []).length) {
    page.append(el("h2", { text: "Metrics" }), el("table", {},
      el("tbody", {}, record.metrics.map((m) => el("tr", {},
        el("td", { text: m.name }), el("td", { text: number(m.value) }),
        el("td", { text: `reference ${number(m.reference)}` }))))));
  }
  if (whoami && (whoami.role === "admin" || whoami.role === "write")) {
    const result = el("div", { id: "replay-result" });
    page.append(el("button", {
      id: "replay", type: "button", text: "Replay this evaluation",
      onclick: async () => {
        result.textContent = "replaying…";
        try {
          const report = await api(`/v1/evaluations/${id}/replay`, { method: "POST", body: {} });
          result.textContent = report.same
            ? "Replayed: the same result."
            : `Replayed: ${report.differences.length} difference(s): ` +
              report.differences.map((d) => d.field).join(", ");
        } catch (error) {
          result.textContent = `Replay failed: ${error.message}`;
        }
      },
    }), result);
  }
}

async function alertsPage(page) {
  const { alerts } = await api("/v1/alerts?limit=200");
  const monitors = new Map((await api("/v1/monitors")).monitors.map((m) => [m.id, m.name]));
  page.append(el("h1", { text: "Alerts" }));
  page.append(el("table", { id: "alerts" },
    el("thead", {}, el("tr", {}, ["when", "monitor", "cause", "message", "evaluation", "delivery"].map((h) => el("th", { text: h })))),
    el("tbody", {}, alerts.map((a) => el("tr", {},
      el("td", { text: time(a.created_at) }),
      el("td", {}, link(`#/monitors/${encodeURIComponent(monitors.get(a.monitor_id) || "")}`, monitors.get(a.monitor_id) || String(a.monitor_id))),
      el("td", {}, badge(a.cause, "cause")),
      el("td", { text: a.message }),
      el("td", {}, a.evaluation_id ? link(`#/evaluations/${a.evaluation_id}`, String(a.evaluation_id)) : "—"),
      el("td", { text: a.delivery }))))));
}

function pinnedPlugins(spec) {
  const refs = [];
  const add = (ref) => { if (ref && ref.plugin) refs.push(ref.plugin); };
  const pipeline = spec.pipeline || {};
  (pipeline.preprocessors || []).forEach(add);
  add(pipeline.numeric);
  add(pipeline.categorical);
  Object.values(pipeline.columns || {}).forEach(add);
  (pipeline.detectors || []).forEach(add);
  (pipeline.multivariate || []).forEach(add);
  add(spec.policy);
  return refs;
}

async function pluginsPage(page) {
  const [{ plugins }, { monitors }, status] = await Promise.all([
    api("/v1/plugins"), api("/v1/monitors"), api("/v1/status")]);
  const users = new Map();
  for (const monitor of monitors) {
    for (const ref of pinnedPlugins(monitor.spec)) {
      users.set(ref, (users.get(ref) || []).concat(monitor.name));
    }
  }
  const failures = new Map();
  for (const m of status.monitors) {
    for (const q of m.quarantined) {
      failures.set(q.plugin, (failures.get(q.plugin) || []).concat(`${m.monitor}: ${q.error || "quarantined"}`));
    }
  }
  page.append(el("h1", { text: "Plugins" }));
  const rows = plugins.map((p) => {
    const id = `${p.name}@${p.version}`;
    return [
      cellOf(p.name, p.name), cellOf(p.version, p.version), cellOf(p.kind, p.kind),
      cellOf(`${Math.round(p.size / 1024)} KiB`, p.size),
      cellOf((users.get(id) || []).join(", ") || "—", (users.get(id) || []).length),
      cellOf((failures.get(id) || []).join("; ") || "none", (failures.get(id) || []).length),
      cellOf(`${p.uploaded_by} · ${time(p.uploaded_at)}`, p.uploaded_at),
    ];
  });
  page.append(sortableTable(["plugin", "version", "kind", "size", "used by", "failures", "uploaded"], rows, "plugins"));
}

async function modelsPage(page) {
  const [{ models }, { actions }] = await Promise.all([api("/v1/models"), api("/v1/actions?limit=200")]);
  page.append(el("h1", { text: "Models" }));
  if (!models.length) page.append(el("p", { text: "No model yet: `vigil model create NAME`." }));
  for (const model of models) {
    const { versions } = await api(`/v1/models/${encodeURIComponent(model.name)}/versions`);
    page.append(el("section", { class: "model", "data-model": model.name },
      el("h2", { text: model.name }),
      el("p", { class: "meta", text: `${model.task} · ${model.record_count} records · serving ${model.serving_version || "nothing"}` }),
      el("table", {},
        el("thead", {}, el("tr", {}, ["version", "status", "why", "metrics", "registered by", "created"].map((h) => el("th", { text: h })))),
        el("tbody", {}, versions.map((v) => el("tr", {},
          el("td", { text: v.version }),
          el("td", {}, badge(v.status)),
          el("td", { text: v.status_reason }),
          el("td", { text: Object.entries(v.metrics).map(([k, x]) => `${k} ${number(x)}`).join(", ") || "—" }),
          el("td", { text: v.created_by }),
          el("td", { text: time(v.created_at) })))))));
  }
  const runs = actions.filter((a) => ["retrain", "promote", "rollback"].includes(a.kind));
  page.append(el("h2", { text: "Retraining runs and rollouts" }), el("table", { id: "runs" },
    el("thead", {}, el("tr", {}, ["action", "kind", "state", "attempts", "outcome", "updated"].map((h) => el("th", { text: h })))),
    el("tbody", {}, runs.map((a) => el("tr", {},
      el("td", { text: String(a.id) }),
      el("td", {}, badge(a.kind, "kind")),
      el("td", {}, badge(a.state)),
      el("td", { text: String(a.attempts) }),
      el("td", { text: a.outcome }),
      el("td", { text: time(a.updated_at) }))))));
}

// ---- routing and login -------------------------------------------------------------------

function showLogin(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  const page = document.getElementById("page");
  page.replaceChildren();
  page.removeAttribute("data-ready");
  document.getElementById("login-error").textContent = message || "";
}

async function route() {
  const page = document.getElementById("page");
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    showLogin();
    return;
  }
  try {
    whoami = whoami || await api("/v1/whoami");
  } catch (error) {
    showLogin(error instanceof Unauthorized ? "That token was refused." : error.message);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${whoami.role} token ${whoami.token_id}`;
  const [path, query] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  const fresh = el("div", { class: "loading", text: "loading…" });
  page.replaceChildren(fresh);
  const body = el("div");
  try {
    if (parts[0] === "monitors" && parts[1]) await monitorPage(body, parts[1], params.get("before"));
    else if (parts[0] === "evaluations" && parts[1]) await evaluationPage(body, Number(parts[1]));
    else if (parts[0] === "alerts") await alertsPage(body);
    else if (parts[0] === "plugins") await pluginsPage(body);
    else if (parts[0] === "models") await modelsPage(body);
    else await monitorsPage(body);
    page.replaceChildren(body);
    page.setAttribute("data-ready", location.hash || "#/");
  } catch (error) {
    if (error instanceof Unauthorized) {
      whoami = null;
      showLogin("The token was refused; log in again.");
    } else {
      page.replaceChildren(el("p", { class: "error", id: "page-error", text: error.message }));
      page.setAttribute("data-ready", location.hash || "#/");
    }
  }
}

function start() {
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    whoami = null;
    route();
  });
  document.getElementById("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    whoami = null;
    showLogin();
  });
  window.addEventListener("hashchange", () => {
    document.getElementById("page").removeAttribute("data-ready");
    route();
  });
  route();
}

start();
