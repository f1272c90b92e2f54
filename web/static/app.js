// Progressive enhancement for the admin pages: everything works without it, except the charts.
"use strict";

(function () {
  const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"];
  const TIER_COLORS = { local: "#16a34a", cheap: "#2563eb", strong: "#dc2626" };

  function readData(canvas) {
    const source = document.getElementById(canvas.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function money(value) {
    return "$" + (Math.abs(value) >= 0.01 || value === 0 ? value.toFixed(2) : value.toPrecision(2));
  }

  const builders = {
    "stacked-bar": (data) => ({
      type: "bar",
      data: {
        labels: data.labels.map((d) => d.slice(5)),
        datasets: data.series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: PALETTE[i % PALETTE.length], stack: "spend" })),
      },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: money } } },
        plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + money(c.parsed.y) } } },
      },
    }),
    doughnut: (data) => ({
      type: "doughnut",
      data: { labels: data.labels, datasets: [{ data: data.data, backgroundColor: data.labels.map((l, i) => TIER_COLORS[l] || PALETTE[i % PALETTE.length]) }] },
      options: { plugins: { legend: { position: "bottom" } } },
    }),
    line: (data) => ({
      type: "line",
      data: { labels: data.labels, datasets: [{ label: "USD", data: data.data, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 2, tension: 0.1 }] },
      options: { scales: { y: { beginAtZero: true, ticks: { callback: money } } }, plugins: { legend: { display: false } } },
    }),
    burndown: (data, unit) => ({
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Spent", data: data.spent, borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 0, tension: 0.1 },
          { label: "Projected", data: data.projected, borderColor: PALETTE[2], borderDash: [6, 4], pointRadius: 0, backgroundColor: PALETTE[2] },
          { label: "Limit", data: data.labels.map(() => data.limit), borderColor: PALETTE[3], borderWidth: 1, pointRadius: 0, backgroundColor: PALETTE[3] },
        ],
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { callback: unit === "tokens" ? (v) => v.toLocaleString() : money } } },
        plugins: { legend: { position: "bottom" } },
      },
    }),
  };

  function drawCharts() {
    if (typeof Chart === "undefined") return;
    const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    Chart.defaults.color = dark ? "#cbd5e1" : "#334155";
    Chart.defaults.borderColor = dark ? "#334155" : "#e2e8f0";
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false;
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const build = builders[canvas.dataset.chart];
      const data = readData(canvas);
      if (!build || !data) return;
      const empty = (data.series && data.series.length === 0) || (data.data && data.data.length === 0);
      if (empty) {
        canvas.replaceWith(Object.assign(document.createElement("p"), { className: "muted empty-chart", textContent: "No data yet." }));
        return;
      }
      canvas.chart = new Chart(canvas, build(data, canvas.dataset.unit));
    });
  }

  function wireForms() {
    document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
      select.addEventListener("change", () => select.form.submit());
    });
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const input = document.getElementById(button.dataset.copy);
        input.select();
        try {
          await navigator.clipboard.writeText(input.value);
        } catch (err) {
          document.execCommand("copy");
        }
        button.textContent = "Copied";
      });
    });
  }

  function showCurrentMenuItem() {
    // On a phone the menu scrolls sideways: bring the current page's entry into view.
    const menu = document.querySelector(".menu");
    const current = menu && menu.querySelector("[aria-current]");
    if (current && menu.scrollWidth > menu.clientWidth) {
      menu.scrollLeft = current.offsetLeft - (menu.clientWidth - current.clientWidth) / 2;
    }
  }

  function start() {
    showCurrentMenuItem();
    wireForms();
    drawCharts();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
