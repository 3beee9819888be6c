// Consortia explorer: local times, copy buttons, and the live dashboard (chart, recent blocks, invalid reasons).
// Plain JavaScript, no build step, no inline script: pages pass data in data- attributes.
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const pad = (n) => String(n).padStart(2, "0");

  // The explorer serves a consortium whose members sit in several time zones: it shows every time in UTC, the
  // ledger's own clock, and says so on each time (the platform's rule: the zone is always named).
  function formatLocal(ms, format) {
    const d = new Date(ms);
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
    if (format === "time") return time;
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}`;
  }

  function formatUtc(ms) {
    return new Date(ms).toISOString().replace("T", " ").replace(/Z$/, " UTC");
  }

  function localiseTimes(root) {
    for (const el of $$("time[data-ms]", root)) {
      const ms = Number(el.dataset.ms);
      if (!Number.isFinite(ms)) continue;
      el.textContent = formatLocal(ms, el.dataset.format);
      el.title = formatUtc(ms);
    }
  }

  function timeElement(ms, format) {
    const el = document.createElement("time");
    el.dateTime = new Date(ms).toISOString();
    el.dataset.ms = String(ms);
    el.dataset.format = format;
    el.textContent = formatLocal(ms, format);
    el.title = formatUtc(ms);
    return el;
  }

  function announce(message) {
    const region = $("#announce");
    if (region) region.textContent = message;
  }

  // -- copy buttons --------------------------------------------------------------------------------------------

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise((resolve, reject) => {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      const ok = document.execCommand && document.execCommand("copy");
      area.remove();
      ok ? resolve() : reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    copyText(button.dataset.copy).then(
      () => {
        const label = button.textContent;
        button.textContent = "Copied";
        button.classList.add("copied");
        announce("Copied to the clipboard");
        setTimeout(() => {
          button.textContent = label;
          button.classList.remove("copied");
        }, 1500);
      },
      () => announce("Copying failed; select the value and copy it by hand"),
    );
  });

  // -- bars --------------------------------------------------------------------------------------------------------

  function updateBars(root) {
    const bars = $$("[data-bar]", root);
    const max = Math.max(1, ...bars.map((bar) => Number(bar.dataset.value) || 0));
    for (const bar of bars) bar.style.width = `${((Number(bar.dataset.value) || 0) / max) * 100}%`;
  }

  // -- the live dashboard ------------------------------------------------------------------------------------------

  function startDashboard(holder) {
    const config = JSON.parse(holder.dataset.live);
    const offset = config.serverNow - Date.now(); // block times are the server's clock
    const now = () => Date.now() + offset;
    const seconds = config.seconds || 120;
    const buckets = new Map(); // second -> {valid, invalid}
    const lastSeen = new Map(); // channel -> last block number shown
    const status = $("[data-live-status]");
    const connected = new Set();

    function add(timestampMs, valid, invalid) {
      const second = Math.floor(timestampMs / 1000);
      const bucket = buckets.get(second) || { valid: 0, invalid: 0 };
      bucket.valid += valid;
      bucket.invalid += invalid;
      buckets.set(second, bucket);
    }

    for (const [timestamp, valid, invalid] of config.seed || []) add(timestamp, valid, invalid);

    // chart
    const canvas = $("#tps-chart");
    const summary = $("[data-tps-summary]");

    function niceMax(value) {
      if (value <= 5) return 5;
      const power = Math.pow(10, Math.floor(Math.log10(value)));
      for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
      return 10 * power;
    }

    function draw() {
      const end = Math.floor(now() / 1000);
      for (const second of buckets.keys()) if (second < end - seconds - 5) buckets.delete(second);
      const values = [];
      for (let s = end - seconds + 1; s <= end; s++) values.push(buckets.get(s) || { valid: 0, invalid: 0 });
      const totals = values.map((b) => b.valid + b.invalid);
      const peak = Math.max(0, ...totals);
      const recent = totals.slice(-11, -1).reduce((a, b) => a + b, 0) / 10; // last ten complete seconds
      if (summary) {
        summary.textContent = `${recent.toFixed(1)} tx/s over the last 10 s · peak ${peak} tx/s in the last 2 minutes`;
      }
      if (!canvas || !canvas.getContext) return;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (!width || !height) return;
      if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
        canvas.width = Math.round(width * ratio);
        canvas.height = Math.round(height * ratio);
      }
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      const css = getComputedStyle(document.documentElement);
      const colour = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
      const muted = colour("--muted", "#526070");
      const grid = colour("--border", "#d5dde7");
      const validColour = colour("--accent", "#1f5fbf");
      const invalidColour = colour("--bad", "#b42318");
      const top = niceMax(peak);
      const left = 34;
      const right = 6;
      const upper = 8;
      const lower = 20;
      const plotWidth = width - left - right;
      const plotHeight = height - upper - lower;
      ctx.font = "11px system-ui, sans-serif";
      ctx.lineWidth = 1;
      ctx.textBaseline = "middle";
      ctx.textAlign = "right";
      for (const fraction of [0, 0.5, 1]) {
        const y = Math.round(upper + plotHeight - fraction * plotHeight) + 0.5;
        ctx.strokeStyle = grid;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(width - right, y);
        ctx.stroke();
        ctx.fillStyle = muted;
        const label = top * fraction;
        ctx.fillText(Number.isInteger(label) ? String(label) : label.toFixed(1), left - 6, y);
      }
      const step = plotWidth / seconds;
      values.forEach((bucket, i) => {
        const x = left + i * step;
        const w = Math.max(1, step - (step > 3 ? 1 : 0));
        const validHeight = (bucket.valid / top) * plotHeight;
        const invalidHeight = (bucket.invalid / top) * plotHeight;
        const base = upper + plotHeight;
        if (validHeight > 0) {
          ctx.fillStyle = validColour;
          ctx.fillRect(x, base - validHeight, w, validHeight);
        }
        if (invalidHeight > 0) {
          ctx.fillStyle = invalidColour;
          ctx.fillRect(x, base - validHeight - invalidHeight, w, invalidHeight);
        }
      });
      ctx.fillStyle = muted;
      ctx.textBaseline = "alphabetic";
      const ticks = [
        [0, "−2 min", "left"],
        [0.5, "−1 min", "center"],
        [1, "now", "right"],
      ];
      for (const [fraction, label, align] of ticks) {
        ctx.textAlign = align;
        ctx.fillText(label, left + fraction * plotWidth, height - 5);
      }
    }

    draw();
    setInterval(draw, 1000);
    window.addEventListener("resize", draw);

    // recent blocks and invalid reasons
    const recentBody = $("#recent-blocks tbody");
    const reasonsBody = $("#invalid-reasons tbody");
    const examined = $("[data-examined-tx]");

    function blockRow(block) {
      const valid = block.transactions.filter((t) => t.code === "VALID").length;
      const row = document.createElement("tr");
      row.dataset.blockRow = `${block.channel}:${block.number}`;
      row.className = "fresh";
      const cell = (content, className) => {
        const td = document.createElement("td");
        if (className) td.className = className;
        if (content instanceof Node) td.appendChild(content);
        else td.textContent = content;
        row.appendChild(td);
      };
      cell(block.channel);
      const link = document.createElement("a");
      link.href = `/channels/${encodeURIComponent(block.channel)}/blocks/${block.number}`;
      link.textContent = `#${block.number}`;
      const mark = configMark(block);
      const number = document.createDocumentFragment();
      number.append(link);
      if (mark) number.append(" ", mark);
      cell(number);
      cell(timeElement(block.timestamp_ms, "time"));
      cell(String(block.transactions.length), "num");
      cell(String(valid), valid < block.transactions.length ? "num has-invalid" : "num");
      return row;
    }

    // A configuration block holds one configuration transaction (function "config"); it links to the channel's
    // configuration history, where the version it set is listed (the page marks it with that version).
    function configMark(block) {
      const only = block.transactions.length === 1 ? block.transactions[0] : null;
      if (!only || only.function !== "config" || block.number === 0) return null;
      const mark = document.createElement("a");
      mark.href = `/channels/${encodeURIComponent(block.channel)}/config`;
      if (only.code === "VALID") {
        mark.className = "badge config-mark";
        mark.textContent = "configuration update";
      } else {
        mark.className = "badge code-invalid config-mark";
        mark.textContent = `refused configuration update: ${only.code}`;
      }
      mark.dataset.configCode = only.code;
      return mark;
    }

    function codeBadge(code) {
      const badge = document.createElement("span");
      badge.className = `badge ${code === "VALID" ? "code-valid" : "code-invalid"}`;
      badge.textContent = code;
      return badge;
    }

    function countReason(code) {
      let row = $$("tr[data-reason]", reasonsBody).find((r) => r.dataset.reason === code);
      if (!row) {
        const empty = $("tr.empty", reasonsBody);
        if (empty) empty.remove();
        row = document.createElement("tr");
        row.dataset.reason = code;
        const th = document.createElement("th");
        th.scope = "row";
        th.appendChild(codeBadge(code));
        const count = document.createElement("td");
        count.className = "num";
        count.dataset.count = "";
        count.textContent = "0";
        const barCell = document.createElement("td");
        barCell.className = "bar-cell";
        const bar = document.createElement("span");
        bar.className = "reason-bar";
        bar.dataset.bar = "";
        bar.dataset.value = "0";
        barCell.appendChild(bar);
        row.append(th, count, barCell);
        reasonsBody.appendChild(row);
      }
      const count = $("[data-count]", row);
      const value = Number(count.textContent) + 1;
      count.textContent = String(value);
      $("[data-bar]", row).dataset.value = String(value);
      return row;
    }

    function sortReasons() {
      const rows = $$("tr[data-reason]", reasonsBody);
      rows.sort((a, b) => Number($("[data-count]", b).textContent) - Number($("[data-count]", a).textContent));
      for (const row of rows) reasonsBody.appendChild(row);
      updateBars(reasonsBody);
    }

    function onBlock(block) {
      const previous = lastSeen.has(block.channel) ? lastSeen.get(block.channel) : -1;
      if (block.number <= previous) return; // already shown (a reconnect may replay)
      lastSeen.set(block.channel, block.number);
      for (const el of $$("[data-height]")) {
        if (el.dataset.height === block.channel) el.textContent = String(block.number + 1);
      }
      const invalid = block.transactions.filter((t) => t.code !== "VALID");
      add(block.timestamp_ms, block.transactions.length - invalid.length, invalid.length);
      if (recentBody) {
        const empty = $("tr.empty", recentBody);
        if (empty) empty.remove();
        recentBody.insertBefore(blockRow(block), recentBody.firstChild);
        const rows = $$("tr[data-block-row]", recentBody);
        for (const row of rows.slice(config.recentMax || 12)) row.remove();
      }
      if (reasonsBody && invalid.length) {
        for (const t of invalid) countReason(t.code);
        sortReasons();
      }
      if (examined) examined.textContent = String(Number(examined.textContent) + block.transactions.length);
    }

    function setStatus() {
      if (!status) return;
      const all = config.channels.length;
      if (!all) {
        status.textContent = "No channel to follow";
        return;
      }
      const live = connected.size === all;
      status.dataset.state = live ? "live" : "retrying";
      status.textContent = live ? "Live" : "Reconnecting…";
    }

    function follow(channel, from, delay) {
      const source = new EventSource(`/api/channels/${encodeURIComponent(channel)}/events?from=${from}`);
      let opened = false;
      source.addEventListener("open", () => {
        opened = true;
        connected.add(channel);
        setStatus();
      });
      source.addEventListener("block", (event) => {
        try {
          onBlock(JSON.parse(event.data));
        } catch (error) {
          console.error("bad block event", error);
        }
      });
      source.addEventListener("error", () => {
        // The server ends idle streams after a while: reconnect at once from the next block not shown yet.
        // A stream that could not even open is retried with a growing delay.
        source.close();
        const next = (lastSeen.has(channel) ? lastSeen.get(channel) : from - 1) + 1;
        if (opened) {
          setTimeout(() => follow(channel, next, 2000), 250);
          return;
        }
        connected.delete(channel);
        setStatus();
        setTimeout(() => follow(channel, next, Math.min(delay * 2, 30000)), delay);
      });
    }

    for (const channel of config.channels) {
      lastSeen.set(channel.name, channel.from - 1);
      follow(channel.name, channel.from, 2000);
    }
    setStatus();
  }

  function start() {
    localiseTimes(document);
    updateBars(document);
    const holder = $("#live");
    if (holder && holder.dataset.live) startDashboard(holder);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
