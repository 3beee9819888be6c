// The consumer page of a lot: where the fish came from, how it travelled, how cold it was kept, how fresh it is —
// and a "Verified" badge computed here, in the browser, from the Merkle proofs of the ledger records.
//
// The page's HTML carries only the journey URL (data-journey-url) and the language (data-lang). Everything else is
// drawn from GET /api/coldchain/public/journey: the steps (critical tracking events) for the timeline and the map,
// the temperature series for the chart (with the FDA limits drawn), the freshness gauge, inspections and alarms.
// The ledger holds no event in clear: a capture transaction carries only the Merkle root of its events' public
// projections. So every step arrives with its leaf (that projection, as committed), the leaf's inclusion path and
// the proof document of the capture transaction. Each step is checked link by link: the step shows only what its
// leaf says (commitment.js); the leaf is in the tree whose root the transaction's envelope carries (commitment.js,
// RFC 9162); the envelope is the transaction named, in a block whose header the ordering service signed
// (verifier.js, the gateway's). Only when every link of every step holds does the badge turn green.
// Below, the chart's warmest and latest readings can each be proven on their own (readingproof.js): the reading
// shown is the one in its logger's anchored batch, and that batch is in the ledger; each step is listed in the
// page's language, a failed one in red.

// Every string comes from the server's catalogue (the page's JSON data block #strings), and every time, place
// and code arrives already written for the page's language in the journey's "display" part: this script places
// text, it never formats a date or names a code itself.
const STRINGS = JSON.parse(document.getElementById('strings')?.textContent || '{"strings":{}}');

function t(key, params = {}) {
  const template = STRINGS.strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

function plural(key, count) {
  const form = STRINGS.plural_forms && count === 1 ? 'one' : 'other';
  return t(`${key}.${form}`, { count });
}

const SVG = 'http://www.w3.org/2000/svg';
const root = document.getElementById('app');
const lang = root?.dataset.lang === 'ko' ? 'ko' : 'en';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else if (k.startsWith('aria-') || ['translate', 'lang', 'title'].includes(k)) {
      if (v !== '') node.setAttribute(k, v);
    } else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function name(value) {
  if (!value) return '';
  if (typeof value === 'string') return value;
  return value[lang] || value.en || '';
}

function $(selector) {
  return root.querySelector(selector);
}

function showError(message) {
  const box = $('[data-error]');
  box.textContent = message;
  box.hidden = false;
}

// -- drawing ----------------------------------------------------------------------------------------------------

function drawHeader(j) {
  const d = j.display;
  if (d.product) $('[data-product]').textContent = d.product;
  const status = $('[data-status]');
  status.replaceChildren();
  const safety = j.safety;
  if (safety) {
    // One verdict first, so a reader never has to reconcile an alarm with a gauge.
    status.append(el('p', { class: safety.saleable ? 'ok verdict' : 'alert verdict', 'data-safety': safety.state }, d.state.text));
  }
  if (j.recalled) status.append(el('p', { class: 'alert' }, t('recalled')));
  const shown = new Set(); // the same rule broken on this lot and on the lot it was made from: say it once
  for (const alarm of d.alarms) {
    if (shown.has(alarm.code)) continue;
    shown.add(alarm.code);
    status.append(el('p', { class: 'alert', 'data-alarm': alarm.code, title: alarm.detail }, `${t('alarm_label')}: ${alarm.name}`));
    const by = d.cleared[alarm.code];
    if (by) status.append(el('p', { class: 'ok', 'data-cleared': alarm.code }, by));
  }
  status.hidden = status.childElementCount === 0;
  $('[data-zone]').replaceChildren(d.zone.text, ' ', el('span', { translate: 'no' }, `(${d.zone.id})`));
}

function drawGauge(j) {
  const d = j.display;
  const box = $('[data-gauge]');
  box.replaceChildren();
  if (j.safety && !j.safety.saleable) {
    // Never a green gauge under a lot that may not be sold.
    box.append(el('p', { class: 'alert', 'data-not-for-sale': j.safety.state }, t('not_for_sale')));
    return;
  }
  if (!j.freshness) {
    box.append(el('p', { class: 'note' }, t('no_readings')));
    return;
  }
  const { remaining_days: days, fraction } = j.freshness;
  const color = fraction > 0.5 ? '#1a7f37' : fraction > 0.2 ? '#b76e00' : '#b42318';
  const picture = svg('svg', { viewBox: '0 0 200 120', class: 'gauge-svg', role: 'img', 'aria-label': d.freshness.text });
  const arc = (f) => {
    const angle = Math.PI * (1 - f);
    return [100 + 80 * Math.cos(angle), 100 - 80 * Math.sin(angle)];
  };
  const [x1, y1] = arc(0);
  const [x2, y2] = arc(1);
  picture.append(svg('path', { d: `M ${x1} ${y1} A 80 80 0 0 1 ${x2} ${y2}`, class: 'gauge-track' }));
  if (fraction > 0) {
    const [x, y] = arc(fraction);
    picture.append(svg('path', { d: `M ${x1} ${y1} A 80 80 0 0 1 ${x} ${y}`, stroke: color, class: 'gauge-value' }));
  }
  picture.append(svg('text', { x: 100, y: 92, class: 'gauge-number' }, d.freshness.days));
  picture.append(svg('text', { x: 100, y: 112, class: 'gauge-label' }, t('days_left')));
  box.append(picture);
  box.append(el('p', { class: 'note', 'data-days-of': '' }, d.freshness.text));
  if (days <= 0) box.append(el('p', { class: 'alert' }, t('spoiled')));
  if (d.hours_above) box.append(el('p', { class: 'note' }, d.hours_above));
  if (d.species) {
    box.append(el('p', { class: 'note' }, `${t('species')}: ${d.species.label} (`,
      el('i', { lang: 'la' }, d.species.scientific), `) · ${t('shelf_model')}`));
  }
}

function drawOrigin(j) {
  const box = $('[data-origin]');
  box.replaceChildren();
  const o = j.display.origin || {};
  if (!o.caught) return;
  const caught = el('p', { class: 'lead' }, o.caught);
  if (o.vessel) caught.append(' ', el('span', { translate: 'no', class: 'notranslate' }, o.vessel));
  box.append(caught);
  if (o.fishing) box.append(el('p', {}, o.fishing));
  if (o.landed) box.append(el('p', { title: o.landed_gln ? `GLN ${o.landed_gln}` : '' }, o.landed));
  if (o.scientific) box.append(el('p', { class: 'note' }, `${o.market} · `, el('i', { lang: 'la' }, o.scientific)));
}

function drawTimeline(j) {
  const list = $('[data-timeline]');
  list.replaceChildren();
  j.steps.forEach((step, i) => {
    const shown = j.display.steps[i];
    const extra = [];
    if (step.kdes.result) extra.push(el('p', { class: 'result' }, lang === 'ko' && step.kdes.resultKo ? step.kdes.resultKo : step.kdes.result));
    const meta = el('p', { class: 'step-meta' }, shown.when);
    if (shown.place) meta.append(' · ', el('span', { title: shown.gln ? `GLN ${shown.gln}` : '' }, shown.place));
    list.append(
      el(
        'li',
        { class: `step cte-${step.cte}`, 'data-cte': step.cte, 'data-tx': step.txID },
        el('span', { class: 'dot' }),
        el('div', {},
          el('p', { class: 'step-title' }, shown.title),
          meta,
          ...extra,
          el('span', { class: 'proof-mark', 'data-proof-mark': step.eventID }, ''),
        ),
      ),
    );
  });
}

function drawMap(j) {
  const box = $('[data-map]');
  box.replaceChildren();
  const points = [];
  for (const step of j.steps) {
    const loc = step.location;
    if (!loc || typeof loc.lat !== 'number' || typeof loc.lon !== 'number') continue;
    const last = points[points.length - 1];
    if (!last || last.id !== loc.id) points.push({ id: loc.id, lat: loc.lat, lon: loc.lon, label: name(loc.name) });
  }
  if (points.length === 0) return;
  // Equirectangular projection of a box around Korea's south-east, widened to include every point.
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const south = Math.min(34.5, ...lats) - 0.3, north = Math.max(38.2, ...lats) + 0.3;
  const west = Math.min(126.2, ...lons) - 0.3, east = Math.max(129.8, ...lons) + 0.3;
  const width = 320, height = Math.round(width * (north - south) / ((east - west) * Math.cos((north + south) / 2 * Math.PI / 180)));
  const x = (lon) => ((lon - west) / (east - west)) * width;
  const y = (lat) => ((north - lat) / (north - south)) * height;
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'map-svg', role: 'img', 'aria-label': t('map') });
  picture.append(svg('rect', { x: 0, y: 0, width, height, class: 'sea' }));
  for (let lat = Math.ceil(south); lat <= north; lat++) picture.append(svg('line', { x1: 0, x2: width, y1: y(lat), y2: y(lat), class: 'grid' }));
  for (let lon = Math.ceil(west); lon <= east; lon++) picture.append(svg('line', { y1: 0, y2: height, x1: x(lon), x2: x(lon), class: 'grid' }));
  picture.append(svg('polyline', { points: points.map((p) => `${x(p.lon)},${y(p.lat)}`).join(' '), class: 'route' }));
  const labelled = new Set();
  const placed = []; // label boxes already drawn, so that labels of nearby places stack instead of overlapping
  points.forEach((p) => {
    picture.append(svg('circle', { cx: x(p.lon), cy: y(p.lat), r: 5, class: 'stop' }));
    if (labelled.has(p.id)) return;
    labelled.add(p.id);
    const right = x(p.lon) > width * 0.55;
    let ly = y(p.lat) + 4;
    while (placed.some((q) => Math.abs(q.y - ly) < 11 && Math.abs(q.x - x(p.lon)) < 120)) ly += 11;
    placed.push({ x: x(p.lon), y: ly });
    picture.append(svg('text', { x: x(p.lon) + (right ? -8 : 8), y: ly, class: 'place', 'text-anchor': right ? 'end' : 'start' }, p.label));
  });
  box.append(picture);
}

// Whether the temperature line (points in the chart's coordinates) passes through a box.
function crosses(points, box) {
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (Math.max(x0, x1) < box.x || Math.min(x0, x1) > box.x + box.width) continue;
    for (let k = 0; k <= 10; k++) {
      const x = x0 + ((x1 - x0) * k) / 10;
      const y = y0 + ((y1 - y0) * k) / 10;
      if (x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height) return true;
    }
  }
  return false;
}

// A limit's label goes where the temperature line does not run through it: just above its line, else just
// below, from the right end leftwards; only if the line is everywhere does it stay at the right end (on a halo).
function placeLabel(label, points, limitY, left, right, width) {
  label.setAttribute('text-anchor', 'end');
  for (const dy of [-4, 12]) {
    for (let x = width - right - 4; x > left + 40; x -= 8) {
      label.setAttribute('x', x);
      label.setAttribute('y', limitY + dy);
      const b = label.getBBox();
      if (b.x < left) break;
      if (!crosses(points, { x: b.x - 1, y: b.y - 1, width: b.width + 2, height: b.height + 2 })) return true;
    }
  }
  label.setAttribute('x', width - right - 4);
  label.setAttribute('y', limitY - 4);
  return false;
}

function drawChart(j) {
  const box = $('[data-chart]');
  box.replaceChildren();
  const series = j.temperature?.series || [];
  const note = $('[data-chart-note]');
  const c = j.display.chart;
  if (series.length < 2) {
    note.textContent = t('no_readings');
    return;
  }
  note.textContent = c.note;
  const width = 640, height = 240, left = 36, right = 8, top = 10, bottom = 28;
  const t0 = series[0][0], t1 = series[series.length - 1][0];
  const ticks = c.ticks;
  const low = ticks[0], high = ticks[ticks.length - 1];
  const X = (ms) => left + ((ms - t0) / Math.max(1, t1 - t0)) * (width - left - right);
  const Y = (value) => top + ((high - value) / (high - low)) * (height - top - bottom);
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': t('temperature') });
  for (const tick of ticks) {
    picture.append(svg('line', { x1: left, x2: width - right, y1: Y(tick), y2: Y(tick), class: 'grid' }));
    picture.append(svg('text', { x: left - 4, y: Y(tick) + 4, class: 'axis', 'text-anchor': 'end', 'data-tick': tick }, `${tick}°`));
  }
  for (const step of j.steps) {
    if (step.time_ms < t0 || step.time_ms > t1) continue;
    picture.append(svg('line', { x1: X(step.time_ms), x2: X(step.time_ms), y1: top, y2: height - bottom, class: 'step-line' }));
  }
  for (const [i, limit] of c.limits.entries()) {
    picture.append(svg('line', { x1: left, x2: width - right, y1: Y(limit.celsius), y2: Y(limit.celsius), class: i ? 'limit high' : 'limit', 'data-limit': limit.celsius }));
  }
  const points = series.map((p) => [Number(X(p[0]).toFixed(1)), Number(Y(p[1]).toFixed(1))]);
  picture.append(svg('path', { d: points.map(([x, y], i) => `${i ? 'L' : 'M'}${x},${y}`).join(' '), class: 'temp-line', 'data-series': '' }));
  picture.append(svg('text', { x: left, y: height - 8, class: 'axis' }, c.start));
  picture.append(svg('text', { x: width - right, y: height - 8, class: 'axis', 'text-anchor': 'end' }, c.end));
  box.append(picture); // in the page, so that the labels can be measured
  for (const limit of c.limits) {
    const label = svg('text', { class: 'limit-label', 'data-limit-label': limit.celsius }, limit.label);
    picture.append(label); // drawn over the line, on a halo
    placeLabel(label, points, Y(limit.celsius), left, right, width);
  }
}

function drawInspections(j) {
  const list = $('[data-inspections]');
  list.replaceChildren();
  for (const verdict of j.display.inspections) {
    list.append(el('li', { class: verdict.disposition === 'conformant' ? 'ok' : 'alert', 'data-inspection': verdict.disposition }, verdict.text));
  }
  if (list.childElementCount === 0) list.append(el('li', { class: 'note' }, t('none_inspected')));
}

// -- one reading's proof ----------------------------------------------------------------------------------------

// The chart's warmest and latest readings, each with a button that fetches its proof and checks it here
// (readingproof.js): the reading shown is the reading proven, its leaf is in its logger's anchored batch, and the
// batch is anchored in the ledger. The reading is what the page shows; the check is against it.
function drawReadings(j) {
  const list = $('[data-readings]');
  list.replaceChildren();
  const offered = j.display.readings || [];
  if (offered.length === 0) {
    list.append(el('li', { class: 'note' }, t('rp.none')));
    return;
  }
  for (const reading of offered) {
    const button = el('button', { type: 'button', class: 'button secondary', 'data-reading-check': String(reading.ts_ms) }, t('rp.check'));
    button.addEventListener('click', () => checkOneReading(j, reading, button));
    list.append(el('li', { 'data-reading': reading.kind }, el('strong', {}, reading.label), ` · ${reading.text} `, button));
  }
}

async function checkOneReading(j, reading, button) {
  const box = $('[data-reading-result]');
  box.dataset.readingVerified = 'pending';
  box.replaceChildren(el('p', { class: 'note' }, t('rp.checking')));
  button.disabled = true;
  try {
    const verifier = await import('/static/verifier.js');
    const proof = await import('/coldchain/static/readingproof.js');
    const url = `/api/coldchain/public/reading-proof?lot=${encodeURIComponent(j.lot)}&ts=${reading.ts_ms}`;
    const result = await proof.checkReading(url, { ts_ms: reading.ts_ms, celsius: reading.celsius }, verifier);
    proof.renderReading(box, result, t, verifier);
  } catch (error) {
    box.dataset.readingVerified = 'false';
    box.replaceChildren(el('p', { class: 'alert' }, t('unavailable')));
    console.error(error);
  } finally {
    button.disabled = false;
  }
}

// -- verification -----------------------------------------------------------------------------------------------

async function verify(j) {
  const badge = $('[data-verify-badge]');
  const stepsList = $('[data-verify-steps]');
  badge.textContent = t('verifying');
  let verifier, commitment;
  try {
    verifier = await import('/static/verifier.js');
    commitment = await import('/coldchain/static/commitment.js');
  } catch (error) {
    badge.className = 'badge unavailable';
    badge.dataset.verified = 'false';
    badge.textContent = t('unavailable');
    return;
  }
  const lots = new Set([j.lot, ...(j.upstream || [])]);
  const transactions = new Map(); // txId → the transaction proof's steps (checked once per transaction)
  const checkTx = async (txId, doc) => {
    if (!transactions.has(txId)) {
      const result = await verifier.checkProof(doc);
      const binding = result.header
        ? await verifier.checkTransaction(doc, result.header, { txId, channel: j.channel })
        : { name: 'transaction', ok: false, detail: 'no header' };
      transactions.set(txId, [...result.steps, binding]);
    }
    return transactions.get(txId);
  };
  let failed = 0;
  for (const step of j.steps || []) {
    const doc = (j.proofs || {})[step.txID];
    let ok = false;
    let detail = '';
    if (doc && step.commitment) {
      try {
        const steps = [...(await commitment.checkCommitment(step, doc, lots, verifier)), ...(await checkTx(step.txID, doc))];
        ok = verifier.stepsHold(steps);
        detail = steps.filter((s) => !s.ok).map((s) => s.name).join('; ');
      } catch (error) {
        detail = String(error?.message || error);
      }
    } else {
      detail = t('no_proof');
    }
    if (!ok) failed += 1;
    for (const mark of root.querySelectorAll(`[data-proof-mark="${CSS.escape(step.eventID)}"]`)) {
      mark.textContent = ok ? '✓' : '✗';
      mark.className = `proof-mark ${ok ? 'ok' : 'bad'}`;
    }
    stepsList.append(el('li', { class: ok ? 'ok' : 'bad', 'data-step-ok': String(ok) }, `${ok ? '✓' : '✗'} ${name(step.label)} · `,
      el('span', { translate: 'no' }, `${step.txID.slice(0, 12)}…${detail ? ` ${detail}` : ''}`)));
  }
  const count = (j.steps || []).length;
  const good = count > 0 && failed === 0;
  badge.className = `badge ${good ? 'verified' : 'not-verified'}`;
  badge.dataset.verified = String(good);
  badge.replaceChildren(
    el('strong', {}, good ? `✓ ${t('verified')}` : `✗ ${t('not_verified')}`),
    el('span', {}, good ? plural('records', count) : plural('failed', failed)),
  );
}

async function main() {
  if (!root) return;
  let journey;
  try {
    const response = await fetch(root.dataset.journeyUrl, { headers: { Accept: 'application/json' } });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try {
        detail = (await response.json()).detail || detail;
      } catch {
        // not a problem document
      }
      throw new Error(detail);
    }
    journey = await response.json();
  } catch (error) {
    showError(t('error.500.detail'));
    console.error(error);
    const badge = $('[data-verify-badge]');
    badge.className = 'badge not-verified';
    badge.dataset.verified = 'false';
    badge.textContent = t('not_verified');
    return;
  }
  drawHeader(journey);
  drawGauge(journey);
  drawOrigin(journey);
  drawTimeline(journey);
  drawMap(journey);
  drawChart(journey);
  drawInspections(journey);
  drawReadings(journey);
  root.dataset.loaded = 'true';
  await verify(journey);
}

main();
