// Operators' dashboard: lots (safety state, in transit, alarms, inspection, recall), one click to everything
// downstream of a lot, open alarms, recalls, and live logger temperatures from the server-sent event stream.
// Beside each logger, "verify" checks its last anchored reading in this browser (readingproof.js with the gateway's
// verifier.js): the reading shown is the one proven, it is in its batch, and the batch is anchored in the ledger.
//
// Every string comes from the server's catalogue (#strings); times, places and codes arrive already written for
// the page's language in each row's "display" part, so this script never formats a date or names a code.

const root = document.getElementById('dashboard');
const STRINGS = JSON.parse(document.getElementById('strings')?.textContent || '{"strings":{}}');
const lang = root?.dataset.lang || 'ko';

function t(key, params = {}) {
  const template = STRINGS.strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

function plural(key, count, params = {}) {
  const form = STRINGS.plural_forms && count === 1 ? 'one' : 'other';
  return t(`${key}.${form}`, { ...params, count });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else if (k.startsWith('aria-') || ['translate', 'lang', 'title'].includes(k)) {
      if (v !== '' && v !== null && v !== undefined) node.setAttribute(k, v);
    } else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined && child !== '') node.append(child);
  return node;
}

// A table cell that carries its column's header, so that on a phone each row becomes a card of labelled lines.
function cell(label, ...children) {
  return el('td', { 'data-label': label }, ...children);
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function place(where) {
  if (!where) return t('dash.no_value');
  return el('span', { title: where.gln ? `GLN ${where.gln}` : '' }, where.name);
}

function status(row) {
  const d = row.display;
  const parts = [];
  const safety = row.safety;
  if (safety) parts.push(el('span', { class: `state ${safety.saleable ? 'ok' : 'alarm'}`, 'data-safety': safety.state }, d.state), ' ');
  if (row.in_transit) parts.push(el('span', { class: 'transit' }, t('dash.in_transit')), ' ');
  if (row.open_alarms) parts.push(el('span', { class: 'alarm', 'data-alarm-count': row.open_alarms }, d.alarms), ' ');
  if (d.inspected) parts.push(el('span', { class: row.inspection.disposition === 'conformant' ? 'ok' : 'alarm' }, d.inspected), ' ');
  if (row.recalled) parts.push(el('span', { class: 'recalled' }, t('dash.recalled')));
  return parts.length ? parts : [t('dash.no_value')];
}

async function showDownstream(lot) {
  const list = root.querySelector('[data-trace]');
  root.querySelector('[data-trace-title]').textContent = lot;
  list.replaceChildren(el('li', { class: 'note' }, t('dash.tracing')));
  const result = await getJson(`${root.dataset.traceUrl}?lot=${encodeURIComponent(lot)}&direction=forward&lang=${lang}`);
  list.replaceChildren();
  for (const item of result.lots) {
    const shown = result.display[item] || {};
    const end = result.ends.includes(item) ? ` ${t('dash.end')}` : '';
    list.append(el('li', { 'data-downstream': item },
      el('a', { href: result.links[item].page, translate: 'no' }, item), ` — ${shown.last_step || ''} ${shown.when || ''}${end}`));
  }
  for (const row of root.querySelectorAll('tr[data-lot]')) row.classList.toggle('selected', row.dataset.lot === lot);
  const button = el('button', { type: 'button', 'data-recall': lot }, plural('dash.recall', result.lots.length, { lot }));
  button.addEventListener('click', () => recall(lot).catch((e) => alert(e.message)));
  list.append(el('li', {}, button));
}

async function recall(lot) {
  const reason = prompt(t('dash.recall_why', { lot }), t('dash.recall_default'));
  if (!reason) return;
  const response = await fetch('/api/coldchain/recall', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ lot, reason }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  await loadLots();
}

async function loadLots() {
  const { lots } = await getJson(root.dataset.lotsUrl);
  const body = root.querySelector('[data-lots] tbody');
  body.replaceChildren();
  root.querySelector('[data-lot-count]').textContent = `(${lots.length})`;
  const recalls = root.querySelector('[data-recalls]');
  recalls.replaceChildren();
  for (const row of lots) {
    const d = row.display;
    const tr = el('tr', { 'data-lot': row.lot },
      cell(t('dash.lot'), el('span', { class: 'lot-id', translate: 'no' }, row.lot)),
      cell(t('dash.last_step'), d.last_step || t('dash.no_value')),
      cell(t('dash.when'), d.when || t('dash.no_value')),
      cell(t('dash.where'), place(d.where)),
      cell(t('dash.status'), ...status(row)),
      cell(t('dash.page'), el('a', { href: row.page, target: '_blank', rel: 'noopener', 'data-page-link': '' }, t('dash.open'))),
    );
    tr.addEventListener('click', () => showDownstream(row.lot).catch((e) => console.error(e)));
    body.append(tr);
    if (row.recalled) recalls.append(el('li', { class: 'recalled', translate: 'no' }, row.lot));
  }
  if (!recalls.childElementCount) recalls.append(el('li', { class: 'note' }, t('dash.no_recalls')));
}

async function loadAlarms() {
  const { alarms } = await getJson(root.dataset.alarmsUrl);
  const list = root.querySelector('[data-alarms]');
  list.replaceChildren();
  for (const alarm of alarms) {
    list.append(el('li', { class: 'alarm', 'data-alarm': alarm.id, 'data-code': alarm.code, title: alarm.display.detail },
      `${alarm.display.name} · ${alarm.display.when} — `, el('span', { translate: 'no' }, (alarm.lots || []).join(', '))));
  }
  if (!alarms.length) list.append(el('li', { class: 'note' }, t('dash.no_alarms')));
}

async function verifyAnchored(device, anchored, button) {
  const panel = root.querySelector('[data-reading-proof-panel]');
  const box = panel.querySelector('[data-reading-result]');
  panel.querySelector('[data-reading-shown]').replaceChildren(
    el('span', { translate: 'no' }, device), ` · ${t('rp.seq', { seq: anchored.seq })} · ${anchored.text}`);
  box.dataset.readingVerified = 'pending';
  box.replaceChildren(el('p', { class: 'note' }, t('rp.checking')));
  button.disabled = true;
  try {
    const verifier = await import('/static/verifier.js');
    const proof = await import('/coldchain/static/readingproof.js');
    const url = `/api/coldchain/reading-proof?device=${encodeURIComponent(device)}&seq=${anchored.seq}`;
    const shown = { device, seq: anchored.seq, ts_ms: anchored.ts_ms, celsius: anchored.celsius };
    proof.renderReading(box, await proof.checkReading(url, shown, verifier), t, verifier);
  } catch (error) {
    box.dataset.readingVerified = 'false';
    box.replaceChildren(el('p', { class: 'alarm' }, t('dash.failed', { detail: error.message })));
  } finally {
    button.disabled = false;
  }
  panel.scrollIntoView({ block: 'nearest' });
}

function proofCell(device, anchored) {
  if (!anchored) return [el('span', { class: 'note' }, t('dash.not_anchored'))];
  const button = el('button', { type: 'button', class: 'verify', 'data-verify-reading': device,
    title: t('dash.verify_reading_of', { device }) }, t('dash.verify_reading'));
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    verifyAnchored(device, anchored, button).catch((e) => console.error(e));
  });
  return [button];
}

function showReading(rows, table, data) {
  let row = rows.get(data.device);
  if (!row) {
    row = el('tr', { 'data-device': data.device },
      cell(t('dash.logger'), el('span', { translate: 'no' }, data.device)), cell(t('dash.site')), cell(t('dash.celsius')), cell(t('dash.at')),
      cell(t('dash.proof')));
    rows.set(data.device, row);
    table.append(row);
  }
  // The stream's rows carry no anchored reading: only the devices list does, so a stream update keeps the button.
  if (data.anchored !== undefined) row.children[4].replaceChildren(...proofCell(data.device, data.anchored));
  const site = data.display.site;
  row.children[1].replaceChildren(el('span', site.known ? { title: site.gln ? `GLN ${site.gln}` : '' } : { translate: 'no' }, site.name));
  row.children[2].textContent = data.celsius.toFixed(1);
  row.children[2].className = data.celsius > 4.4 ? 'hot' : '';
  row.children[3].replaceChildren(data.display.when);
  row.dataset.stale = String(data.display.stale);
  if (data.display.stale) row.children[3].append(' ', el('span', { class: 'stale', 'data-stale': '' }, data.display.age));
}

async function live() {
  const table = root.querySelector('[data-live] tbody');
  const rows = new Map();
  const { devices } = await getJson(root.dataset.devicesUrl);
  for (const data of devices) showReading(rows, table, data);
  const source = new EventSource(root.dataset.liveUrl);
  source.addEventListener('reading', (message) => showReading(rows, table, JSON.parse(message.data)));
  source.addEventListener('alarm', () => { loadAlarms(); loadLots(); });
  source.addEventListener('capture', () => loadLots());
}

async function main() {
  if (!root) return;
  await Promise.all([loadLots(), loadAlarms(), live()]);
  root.dataset.loaded = 'true';
}

main().catch((error) => console.error(error));
