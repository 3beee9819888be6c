// Operators' dashboard: lots (in transit, alarms, inspection, recall), one click to everything downstream of a lot,
// open alarms, recalls, and live logger temperatures from the server-sent event stream.

const root = document.getElementById('dashboard');

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function when(ms) {
  if (!ms) return '—';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Seoul', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(ms));
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function place(id) {
  if (!id) return '—';
  const gln = id.includes('/414/') ? id.split('/414/')[1] : id;
  return `GLN ${gln}`;
}

function status(row) {
  const parts = [];
  if (row.in_transit) parts.push(el('span', { class: 'transit' }, 'in transit '));
  if (row.open_alarms) parts.push(el('span', { class: 'alarm' }, `${row.open_alarms} alarm(s) `));
  if (row.inspection) {
    const ok = row.inspection.disposition === 'conformant';
    parts.push(el('span', { class: ok ? 'ok' : 'alarm' }, `inspected: ${row.inspection.disposition} `));
  }
  if (row.recalled) parts.push(el('span', { class: 'recalled' }, 'recalled'));
  return parts.length ? parts : ['—'];
}

async function showDownstream(lot) {
  const list = root.querySelector('[data-trace]');
  root.querySelector('[data-trace-title]').textContent = lot;
  list.replaceChildren(el('li', { class: 'note' }, 'tracing…'));
  const result = await getJson(`${root.dataset.traceUrl}?lot=${encodeURIComponent(lot)}&direction=forward`);
  list.replaceChildren();
  for (const item of result.lots) {
    const summary = result.summaries[item] || {};
    const end = result.ends.includes(item) ? ' (end)' : '';
    list.append(el('li', { 'data-downstream': item },
      el('a', { href: result.links[item].page }, item), ` — ${summary.last_cte || '?'} ${when(summary.last_ms)}${end}`));
  }
  for (const row of root.querySelectorAll('tr[data-lot]')) row.classList.toggle('selected', row.dataset.lot === lot);
  const button = el('button', { type: 'button', 'data-recall': lot }, `Recall ${lot} and these ${result.lots.length} lot(s)`);
  button.addEventListener('click', () => recall(lot).catch((e) => alert(e.message)));
  list.append(el('li', {}, button));
}

async function recall(lot) {
  const reason = prompt(`Why is ${lot} recalled?`, 'temperature abuse');
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
    const tr = el('tr', { 'data-lot': row.lot },
      el('td', {}, row.lot),
      el('td', {}, row.last_cte || row.last_step || '—'),
      el('td', {}, when(row.last_ms)),
      el('td', {}, place(row.last_location)),
      el('td', {}, ...status(row)),
      el('td', {}, el('a', { href: row.page, target: '_blank', rel: 'noopener' }, 'open')),
    );
    tr.addEventListener('click', () => showDownstream(row.lot).catch((e) => console.error(e)));
    body.append(tr);
    if (row.recalled) recalls.append(el('li', { class: 'recalled' }, row.lot));
  }
  if (!recalls.childElementCount) recalls.append(el('li', { class: 'note' }, 'No recalls.'));
}

async function loadAlarms() {
  const { alarms } = await getJson(root.dataset.alarmsUrl);
  const list = root.querySelector('[data-alarms]');
  list.replaceChildren();
  for (const alarm of alarms) {
    list.append(el('li', { class: 'alarm', 'data-alarm': alarm.id }, `${alarm.code} — ${(alarm.lots || []).join(', ')}: ${alarm.message}`));
  }
  if (!alarms.length) list.append(el('li', { class: 'note' }, 'No open alarms.'));
}

function live() {
  const table = root.querySelector('[data-live] tbody');
  const rows = new Map();
  const source = new EventSource(root.dataset.liveUrl);
  source.addEventListener('reading', (message) => {
    const data = JSON.parse(message.data);
    let row = rows.get(data.device);
    if (!row) {
      row = el('tr', { 'data-device': data.device }, el('td', {}, data.device), el('td', {}), el('td', {}), el('td', {}));
      rows.set(data.device, row);
      table.append(row);
    }
    row.children[1].textContent = data.site;
    row.children[2].textContent = data.celsius.toFixed(1);
    row.children[2].className = data.celsius > 4.4 ? 'hot' : '';
    row.children[3].textContent = when(data.ts_ms);
  });
  source.addEventListener('alarm', () => { loadAlarms(); loadLots(); });
  source.addEventListener('capture', () => loadLots());
}

async function main() {
  if (!root) return;
  await Promise.all([loadLots(), loadAlarms()]);
  root.dataset.loaded = 'true';
  live();
}

main().catch((error) => console.error(error));
