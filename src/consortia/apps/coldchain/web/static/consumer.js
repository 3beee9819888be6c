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

const T = {
  en: {
    lot: 'Lot', freshness: 'Freshness', origin: 'Caught and landed', journey: 'The journey', map: 'Map',
    temperature: 'Temperature', inspections: 'Inspections', verification: 'How we know',
    verification_text: "Each step above was recorded on the consortium's blockchain. Your browser checked the Merkle proofs of those records against block headers signed by the ordering service — it does not have to trust this server.",
    verifying: 'Checking the ledger…', verified: 'Verified on the blockchain', notVerified: 'Not verified',
    unavailable: 'Verification unavailable', records: (n) => `${n} records checked in your browser`,
    failed: (n) => `${n} record(s) failed the check`, daysLeft: 'days of shelf life left', of: 'of',
    spoiled: 'Past its shelf life', noReadings: 'No temperature readings yet.',
    caught: (area, vessel) => `Caught in the ${area}${vessel ? ` by ${vessel}` : ''}`,
    fishing: (a, b) => `Fishing trip ${a} – ${b}`, landed: (place, when) => `Landed at ${place}, ${when}`,
    species: 'Species', abuse: 'FDA limit 4.4 °C', high: '21.1 °C (histamine risk)', readings: 'readings',
    batches: 'anchored 5-minute averages', hoursAbove: (h) => `${h} h above 4.4 °C`, recalled: 'This lot was recalled.',
    alarm: 'Alarm', inspection: 'Inspection', conformant: 'conformant', non_conformant: 'NOT conformant',
    none: 'No inspection recorded for this lot.', now: 'now', step: 'Step', fao: 'FAO area',
    state: { fresh: 'Fresh: fine to sell', use_soon: 'Use soon', held_for_inspection: 'Held for inspection: not for sale', do_not_sell: 'Do not sell or eat' },
    clearedBy: (when, result) => `Cleared by the inspection of ${when}${result ? `: ${result}` : ''}`,
    notForSale: 'Not for sale: no shelf life is shown for this lot.',
  },
  ko: {
    lot: '로트', freshness: '신선도', origin: '어획 및 양륙', journey: '유통 경로', map: '지도',
    temperature: '온도 기록', inspections: '검사', verification: '검증 방법',
    verification_text: '위의 각 단계는 컨소시엄 블록체인에 기록되었습니다. 이 브라우저가 주문 서비스가 서명한 블록 헤더에 대해 각 기록의 머클 증명을 직접 확인했습니다 — 이 서버를 믿을 필요가 없습니다.',
    verifying: '블록체인 확인 중…', verified: '블록체인 검증 완료', notVerified: '검증 실패',
    unavailable: '검증을 할 수 없습니다', records: (n) => `기록 ${n}건을 브라우저에서 확인`,
    failed: (n) => `기록 ${n}건 검증 실패`, daysLeft: '일 남은 유통기한', of: '/',
    spoiled: '유통기한이 지났습니다', noReadings: '아직 온도 기록이 없습니다.',
    caught: (area, vessel) => `${area}에서 어획${vessel ? ` (${vessel})` : ''}`,
    fishing: (a, b) => `조업 기간 ${a} – ${b}`, landed: (place, when) => `${when} ${place} 양륙`,
    species: '어종', abuse: 'FDA 기준 4.4 °C', high: '21.1 °C (히스타민 위험)', readings: '측정값',
    batches: '블록체인에 기록된 5분 평균', hoursAbove: (h) => `4.4 °C 초과 ${h}시간`, recalled: '이 로트는 회수되었습니다.',
    alarm: '경보', inspection: '검사', conformant: '적합', non_conformant: '부적합',
    none: '이 로트의 검사 기록이 없습니다.', now: '현재', step: '단계', fao: 'FAO 해역',
    state: { fresh: '신선: 판매 가능', use_soon: '빨리 드세요', held_for_inspection: '검사 대기: 판매 보류', do_not_sell: '판매·섭취 금지' },
    clearedBy: (when, result) => `${when} 검사로 해제${result ? `: ${result}` : ''}`,
    notForSale: '판매 불가: 이 로트의 유통기한은 표시하지 않습니다.',
  },
};

const SVG = 'http://www.w3.org/2000/svg';
const root = document.getElementById('app');
const lang = root?.dataset.lang === 'ko' ? 'ko' : 'en';
const t = T[lang];

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

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(ms, withDate = true) {
  const options = { timeZone: 'Asia/Seoul', hour: '2-digit', minute: '2-digit', hour12: false };
  if (withDate) Object.assign(options, { month: 'short', day: 'numeric' });
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', options).format(new Date(ms));
}

function isoDate(text) {
  if (!text) return '';
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : when(ms);
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
  document.querySelectorAll('[data-i18n]').forEach((node) => {
    const text = t[node.dataset.i18n];
    if (typeof text === 'string') node.textContent = text;
  });
  $('[data-product]').textContent = name(j.product);
  const status = $('[data-status]');
  status.replaceChildren();
  const safety = j.safety;
  if (safety) {
    // One verdict first, so a reader never has to reconcile an alarm with a gauge.
    status.append(el('p', { class: safety.saleable ? 'ok' : 'alert', 'data-safety': safety.state }, t.state[safety.state] || safety.state));
  }
  if (j.recalled) status.append(el('p', { class: 'alert' }, t.recalled));
  const cleared = new Map((safety?.findings || []).filter((f) => f.cleared_by).map((f) => [f.code, f.cleared_by]));
  const shown = new Set(); // the same rule broken on this lot and on the lot it was made from: say it once
  for (const alarm of j.alarms || []) {
    if (shown.has(alarm.code)) continue;
    shown.add(alarm.code);
    status.append(el('p', { class: 'alert', 'data-alarm': alarm.code }, `${t.alarm}: ${lang === 'ko' && alarm.message_ko ? alarm.message_ko : alarm.message}`));
    const by = cleared.get(alarm.code);
    if (by) status.append(el('p', { class: 'ok', 'data-cleared': alarm.code }, t.clearedBy(when(by.time_ms), by.result)));
  }
  status.hidden = status.childElementCount === 0;
}

function drawGauge(j) {
  const box = $('[data-gauge]');
  box.replaceChildren();
  if (!j.freshness) {
    box.append(el('p', { class: 'note' }, t.noReadings));
    return;
  }
  if (j.safety && !j.safety.saleable) {
    box.append(el('p', { class: 'alert', 'data-not-for-sale': j.safety.state }, t.notForSale));
    return;
  }
  const { remaining_days: days, shelf_life_days: total, fraction } = j.freshness;
  const color = fraction > 0.5 ? '#1a7f37' : fraction > 0.2 ? '#b76e00' : '#b42318';
  const picture = svg('svg', { viewBox: '0 0 200 120', class: 'gauge-svg', role: 'img', 'aria-label': `${days} ${t.daysLeft}` });
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
  picture.append(svg('text', { x: 100, y: 92, class: 'gauge-number' }, days > 0 ? days.toFixed(1) : '0'));
  picture.append(svg('text', { x: 100, y: 112, class: 'gauge-label' }, `${t.daysLeft} (${t.of} ${total})`));
  box.append(picture);
  if (days <= 0) box.append(el('p', { class: 'alert' }, t.spoiled));
  if (j.assessment) box.append(el('p', { class: 'note' }, t.hoursAbove(j.assessment.hours_above_4_4c.toFixed(1))));
  if (j.species) box.append(el('p', { class: 'note' }, `${t.species}: ${name(j.species.label)} (${j.species.scientific_name}) · RRS (1 + 0.1·T)²`));
}

function drawOrigin(j) {
  const box = $('[data-origin]');
  box.replaceChildren();
  const o = j.origin || {};
  if (!o.catch_area_name) return;
  box.append(el('p', { class: 'lead' }, t.caught(name(o.catch_area_name), o.vessel_name)));
  if (o.harvest_start) box.append(el('p', {}, t.fishing(isoDate(o.harvest_start), isoDate(o.harvest_end))));
  if (o.landed_at) box.append(el('p', {}, t.landed(name(o.landed_at.name), when(o.landed_ms))));
  if (o.species_scientific_name) box.append(el('p', { class: 'note' }, `${name(o.market_name)} · ${o.species_scientific_name}`));
}

function drawTimeline(j) {
  const list = $('[data-timeline]');
  list.replaceChildren();
  for (const step of j.steps) {
    const extra = [];
    if (step.kdes.result) extra.push(el('p', { class: 'result' }, lang === 'ko' && step.kdes.resultKo ? step.kdes.resultKo : step.kdes.result));
    list.append(
      el(
        'li',
        { class: `step cte-${step.cte}`, 'data-cte': step.cte, 'data-tx': step.txID },
        el('span', { class: 'dot' }),
        el('div', {},
          el('p', { class: 'step-title' }, name(step.label)),
          el('p', { class: 'step-meta' }, `${when(step.time_ms)} · ${step.location ? name(step.location.name) : ''}`),
          ...extra,
          el('span', { class: 'proof-mark', 'data-proof-mark': step.eventID }, ''),
        ),
      ),
    );
  }
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
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'map-svg', role: 'img' });
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

function drawChart(j) {
  const box = $('[data-chart]');
  box.replaceChildren();
  const series = j.temperature?.series || [];
  const note = $('[data-chart-note]');
  if (series.length < 2) {
    note.textContent = t.noReadings;
    return;
  }
  note.textContent = `${series.length} ${j.temperature.source === 'readings' ? t.readings : t.batches}`;
  const width = 640, height = 240, left = 36, right = 8, top = 10, bottom = 28;
  const t0 = series[0][0], t1 = series[series.length - 1][0];
  const temps = series.map((p) => p[1]);
  const limits = j.limits ? [j.limits.abuse_celsius, j.limits.high_celsius] : [4.4];
  const low = Math.min(-2, ...temps), high = Math.max(8, ...temps, ...(j.limits ? [22] : []));
  const X = (ms) => left + ((ms - t0) / Math.max(1, t1 - t0)) * (width - left - right);
  const Y = (c) => top + ((high - c) / (high - low)) * (height - top - bottom);
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img' });
  for (let c = Math.ceil(low / 5) * 5; c <= high; c += 5) {
    picture.append(svg('line', { x1: left, x2: width - right, y1: Y(c), y2: Y(c), class: 'grid' }));
    picture.append(svg('text', { x: left - 4, y: Y(c) + 4, class: 'axis', 'text-anchor': 'end' }, `${c}°`));
  }
  for (const step of j.steps) {
    if (step.time_ms < t0 || step.time_ms > t1) continue;
    picture.append(svg('line', { x1: X(step.time_ms), x2: X(step.time_ms), y1: top, y2: height - bottom, class: 'step-line' }));
  }
  limits.forEach((limit, i) => {
    picture.append(svg('line', { x1: left, x2: width - right, y1: Y(limit), y2: Y(limit), class: i ? 'limit high' : 'limit', 'data-limit': limit }));
    picture.append(svg('text', { x: width - right - 4, y: Y(limit) - 4, class: 'limit-label', 'text-anchor': 'end' }, i ? t.high : t.abuse));
  });
  const d = series.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
  picture.append(svg('path', { d, class: 'temp-line', 'data-series': '' }));
  picture.append(svg('text', { x: left, y: height - 8, class: 'axis' }, when(t0)));
  picture.append(svg('text', { x: width - right, y: height - 8, class: 'axis', 'text-anchor': 'end' }, when(t1)));
  box.append(picture);
}

function drawInspections(j) {
  const list = $('[data-inspections]');
  list.replaceChildren();
  for (const verdict of j.inspections || []) {
    const text = j.inspection_texts?.find((x) => x.time_ms === verdict.time);
    const label = t[verdict.disposition] || verdict.disposition;
    list.append(el('li', { class: verdict.disposition === 'conformant' ? 'ok' : 'alert', 'data-inspection': verdict.disposition },
      `${t.inspection} ${when(verdict.time)}: ${label}${text ? ` — ${lang === 'ko' && text.ko ? text.ko : text.en}` : ''}`));
  }
  if (list.childElementCount === 0) list.append(el('li', { class: 'note' }, t.none));
}

// -- verification -----------------------------------------------------------------------------------------------

async function verify(j) {
  const badge = $('[data-verify-badge]');
  const stepsList = $('[data-verify-steps]');
  badge.textContent = t.verifying;
  let verifier, commitment;
  try {
    verifier = await import('/static/verifier.js');
    commitment = await import('/coldchain/static/commitment.js');
  } catch (error) {
    badge.className = 'badge unavailable';
    badge.dataset.verified = 'false';
    badge.textContent = t.unavailable;
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
      detail = 'no proof';
    }
    if (!ok) failed += 1;
    for (const mark of root.querySelectorAll(`[data-proof-mark="${CSS.escape(step.eventID)}"]`)) {
      mark.textContent = ok ? '✓' : '✗';
      mark.className = `proof-mark ${ok ? 'ok' : 'bad'}`;
    }
    stepsList.append(el('li', { class: ok ? 'ok' : 'bad', 'data-step-ok': String(ok) }, `${ok ? '✓' : '✗'} ${name(step.label)} · ${step.txID.slice(0, 12)}…${detail ? ` ${detail}` : ''}`));
  }
  const count = (j.steps || []).length;
  const good = count > 0 && failed === 0;
  badge.className = `badge ${good ? 'verified' : 'not-verified'}`;
  badge.dataset.verified = String(good);
  badge.replaceChildren(
    el('strong', {}, good ? `✓ ${t.verified}` : `✗ ${t.notVerified}`),
    el('span', {}, good ? t.records(count) : t.failed(failed)),
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
    showError(String(error.message || error));
    const badge = $('[data-verify-badge]');
    badge.className = 'badge not-verified';
    badge.dataset.verified = 'false';
    badge.textContent = t.notVerified;
    return;
  }
  drawHeader(journey);
  drawGauge(journey);
  drawOrigin(journey);
  drawTimeline(journey);
  drawMap(journey);
  drawChart(journey);
  drawInspections(journey);
  root.dataset.loaded = 'true';
  await verify(journey);
}

main();
