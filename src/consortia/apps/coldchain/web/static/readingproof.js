// A single temperature reading, proven in the browser: the reading is a leaf of its logger's batch, the batch's
// root is what the anchoring sensor_reporting event committed to, that event's leaf is in the capture transaction's
// Merkle tree, and the transaction is in the ledger under an orderer-signed block header.
//
// Mirrors consortia/apps/coldchain/service/proofs.py (verify_reading_proof) step for step, with the same step names,
// so the two verifiers can be fed the same documents and compared (tests/coldchain/test_cc_reading_proof_js.py):
//
//   1. the reading's leaf is recomputed from the reading itself — the bytes
//      'coldchain-reading/v1\0' + canonical JSON {celsius, device, seq, ts_ms} (domain/batches.py) — and must be
//      the leaf hash the document names;
//   2. the leaf is at `index` of the batch tree whose root is `root` (RFC 9162 inclusion);
//   3. the anchoring event's leaf names this logger, this root, this count and the batch's event ID;
//   4. that leaf is in the capture's tree whose root the transaction's envelope carries (commitment.js), the
//      envelope is the transaction named, and the transaction proof holds (the gateway's verifier.js).
//
// A page adds one step before these: the proof is about the reading the page shows (the same time and value), so a
// server cannot show one temperature and prove another; and one after them, as the explorer's widget does: the
// envelope's transaction id is the hash of its nonce and creator, on the channel the orderer signed
// (verifier.checkTransaction). The members' "sealed" part of a proof (the full event and its salt) is never sent to
// a browser; the CLI checks it.
//
// Canonical JSON here is what the server's msgspec encoder writes: sorted keys, no spaces, and a float always as a
// float ("2.0", "1e-7", "1.5e16"), which JSON.stringify does not do.

import { committedRoot } from './commitment.js';

export const LEAF_TAG = 'coldchain-reading/v1\0';
export const FETCH_STEP = 'fetch the proof from the server';
export const SHOWN_STEP = 'the proof is of the reading shown';
export const STEPS = Object.freeze({
  readable: 'proof document is readable',
  leaf: 'reading leaf hash',
  batch: 'reading is in its batch (RFC 9162 inclusion up to the batch root)',
  anchor: "the anchoring event's leaf names this logger and this batch root",
  root: 'the capture transaction carries a Merkle root',
  capture: "leaf is in the capture's tree whose root the transaction carries (RFC 9162 inclusion)",
  named: 'the envelope is the capture transaction named',
});
const TRANSACTION = 'transaction: ';
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A number as the server's canonical JSON writes a float (msgspec: decimal for 1e-5 ≤ |x| < 1e16). */
export function floatJson(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new TypeError(`celsius must be a number, found ${x}`);
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const size = Math.abs(x);
  if (size >= 1e-5 && size < 1e16) {
    const text = String(x);
    return /[.e]/.test(text) ? text : `${text}.0`;
  }
  return x.toExponential().replace('e+', 'e');
}

function whole(value, what) {
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > MAX_SAFE) {
    throw new TypeError(`${what} must be an integer, found ${JSON.stringify(value)}`.slice(0, 80));
  }
  return value;
}

/** The leaf data of a reading (domain/batches.py: leaf_bytes). Throws on a missing or mistyped field. */
export function leafData(reading) {
  const device = field(reading, 'device');
  const celsius = field(reading, 'celsius');
  if (typeof device !== 'string') throw new TypeError('device must be a string');
  const seq = whole(field(reading, 'seq'), 'seq');
  const ts = whole(field(reading, 'ts_ms'), 'ts_ms');
  const json = `{"celsius":${floatJson(celsius)},"device":${JSON.stringify(device)},"seq":${seq},"ts_ms":${ts}}`;
  return new TextEncoder().encode(LEAF_TAG + json);
}

function field(obj, key) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new TypeError(`expected an object with "${key}"`);
  if (!Object.hasOwn(obj, key)) throw new TypeError(`missing "${key}"`);
  return obj[key];
}

const falsy = (v) => v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && Object.keys(v).length === 0);
const get = (obj, key) => (obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key) ? obj[key] ?? null : null);
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/** The key of a step name (for the page's catalogue): reading steps, then the transaction proof's (verifier.STEPS). */
export function stepKey(name, verifier) {
  if (name === SHOWN_STEP) return 'shown';
  if (name === FETCH_STEP) return 'fetch';
  if (name === verifier.TRANSACTION_STEP) return 'binding';
  const own = Object.entries(STEPS).find(([, text]) => text === name);
  if (own) return own[0];
  if (name.startsWith(TRANSACTION)) {
    const inner = Object.entries(verifier.STEPS).find(([, text]) => text === name.slice(TRANSACTION.length));
    if (inner) return `tx.${inner[0]}`;
  }
  return 'other';
}

/**
 * Check a reading proof document link by link → [{name, ok, detail}] with verify_reading_proof's names (every step
 * must hold). `verifier` is the gateway's verifier.js module. Never throws for a bad document.
 */
export async function verifyReadingProof(doc, verifier, options = {}) {
  return (await readingSteps(doc, verifier, options)).steps;
}

/** verifyReadingProof's steps, and the block header its transaction proof verified (null when it did not get that far). */
async function readingSteps(doc, verifier, options) {
  const steps = [];
  const result = { steps, header: null };
  const add = (name, ok, detail = '') => {
    steps.push({ name, ok: Boolean(ok), detail: String(detail) });
    return Boolean(ok);
  };
  let leaf, root, path, index, count, batch, event, txDoc, anchored, sensor;
  try {
    const reading = field(doc, 'reading');
    batch = field(doc, 'batch');
    event = field(doc, 'event');
    leaf = await verifier.leafHash(leafData(reading), options);
    if (typeof field(batch, 'root') !== 'string') throw new TypeError('the batch root must be hex');
    root = verifier.hexToBytes(batch.root);
    const hexes = field(batch, 'path');
    if (!Array.isArray(hexes)) throw new TypeError('the batch path must be a list of hex strings');
    path = hexes.map(verifier.hexToBytes);
    index = field(batch, 'index');
    count = field(batch, 'count');
    txDoc = field(doc, 'transaction_proof');
    const text = field(event, 'leaf');
    if (typeof text !== 'string') throw new TypeError('the anchoring leaf must be a string');
    anchored = JSON.parse(text);
    sensor = field(anchored, 'sensor');
    if (falsy(sensor)) sensor = {}; // Python's `anchored["sensor"] or {}`
    if (typeof sensor !== 'object' || Array.isArray(sensor)) throw new TypeError("the anchoring leaf's sensor must be an object");
  } catch (error) {
    add(STEPS.readable, false, messageOf(error));
    return result;
  }
  add(STEPS.readable, true);
  const leafHex = verifier.bytesToHex(leaf);
  if (!add(STEPS.leaf, leafHex === get(doc, 'leaf_hash'), leafHex)) return result;
  add(STEPS.batch, await verifier.verifyInclusion(leaf, index, count, path, root, options), `leaf ${index} of ${count}`);
  add(
    STEPS.anchor,
    get(sensor, 'merkleRoot') === batch.root &&
      get(sensor, 'device') === get(batch, 'device_uri') &&
      get(sensor, 'count') === count &&
      get(anchored, 'eventID') === get(batch, 'event_id'),
    `${batch.root.slice(0, 16)}…`,
  );
  let committed, leafText, capture, txId;
  try {
    leafText = event.leaf;
    capture = { index: field(event, 'index'), count: field(event, 'count'), path: field(event, 'path') };
    txId = field(batch, 'tx_id');
    if (typeof txId !== 'string') throw new TypeError('the batch transaction id must be a string');
    committed = committedRoot(verifier.base64ToBytes(field(txDoc, 'envelope')), verifier.hexToBytes);
  } catch (error) {
    add(STEPS.root, false, messageOf(error));
    return result;
  }
  let holds = false;
  try {
    const hash = await verifier.leafHash(new TextEncoder().encode(leafText), options);
    holds = capture.count === committed.count &&
      (await verifier.verifyInclusion(hash, capture.index, capture.count, capture.path.map(verifier.hexToBytes), committed.root, options));
  } catch {
    holds = false;
  }
  add(STEPS.capture, holds, `leaf ${capture.index} of ${capture.count}, root ${verifier.bytesToHex(committed.root).slice(0, 16)}…`);
  add(STEPS.named, committed.txId === txId.toLowerCase(), committed.txId);
  const proof = await verifier.checkProof(txDoc, options);
  for (const inner of proof.steps) add(`${TRANSACTION}${inner.name}`, inner.ok, inner.detail);
  result.header = proof.header;
  return result;
}

/** The page's own step: the document proves the reading the page shows (time and value; logger and number if shown). */
export function checkShown(shown, doc) {
  const reading = get(doc, 'reading') || {};
  const differs = ['ts_ms', 'celsius', 'device', 'seq'].filter((k) => shown[k] !== undefined && shown[k] !== get(reading, k));
  return { name: SHOWN_STEP, ok: differs.length === 0, detail: differs.length ? `${differs.join(', ')} differ` : '' };
}

/** Fetch a reading's proof (same origin) and check it against the reading shown → {steps, doc}. Never throws. */
export async function checkReading(url, shown, verifier, options = {}) {
  let doc = null;
  try {
    const target = new URL(url, document.baseURI);
    if (target.origin !== location.origin) throw new Error(`refusing to fetch from another origin: ${target.origin}`);
    const response = await fetch(target, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) {
      let detail = '';
      try {
        detail = (await response.json()).detail ?? '';
      } catch {
        // not a problem document
      }
      throw new Error(`HTTP ${response.status}${detail ? `: ${detail}` : ''}`);
    }
    doc = await response.json();
  } catch (error) {
    return { steps: [{ name: FETCH_STEP, ok: false, detail: messageOf(error) }], doc };
  }
  try {
    const { steps, header } = await readingSteps(doc, verifier, options);
    // As the explorer's widget does: the envelope is the transaction named, its id the hash of its nonce and
    // creator, on the channel the orderer signed — the binding verify_reading_proof checks only by name.
    const binding = header ? [await verifier.checkTransaction(doc.transaction_proof, header, { txId: doc.batch.tx_id }, options)] : [];
    return { steps: [checkShown(shown, doc), ...steps, ...binding], doc };
  } catch (error) {
    return { steps: [{ name: STEPS.readable, ok: false, detail: messageOf(error) }], doc };
  }
}

/**
 * Draw a result into `box`: one line in plain words first, then the logger and reading number, then each step with
 * its verdict in the page's language (`t` reads the page's catalogue). Details are technical and marked as such.
 */
export function renderReading(box, { steps, doc }, t, verifier) {
  const ok = verifier.stepsHold(steps);
  const failed = steps.find((s) => !s.ok);
  const named = (s) => t(`rp.step.${stepKey(s.name, verifier)}`);
  const verdict = document.createElement('p');
  verdict.className = ok ? 'ok verdict' : 'alert verdict';
  verdict.dataset.readingVerdict = ok ? 'verified' : 'failed';
  verdict.setAttribute('role', 'status');
  verdict.textContent = ok ? `✓ ${t('rp.ok')}` : `✗ ${t('rp.failed', { step: failed ? named(failed) : '' })}`;
  const parts = [verdict];
  const reading = get(doc, 'reading');
  if (reading && typeof reading.device === 'string') {
    const who = document.createElement('p');
    who.className = 'note';
    const device = document.createElement('span');
    device.translate = false;
    device.setAttribute('translate', 'no');
    device.textContent = reading.device;
    who.append(`${t('rp.logger')} `, device, ` · ${t('rp.seq', { seq: reading.seq })}`);
    parts.push(who);
  }
  const list = document.createElement('ol');
  list.className = 'proof-steps';
  list.dataset.readingSteps = '';
  for (const s of steps) {
    const item = document.createElement('li');
    item.className = s.ok ? 'ok' : 'bad';
    item.dataset.stepOk = String(s.ok);
    item.dataset.step = stepKey(s.name, verifier);
    item.append(`${s.ok ? '✓' : '✗'} ${named(s)}`);
    if (s.detail) {
      const detail = document.createElement('span');
      detail.className = 'detail';
      detail.setAttribute('translate', 'no');
      detail.title = s.name; // the step's technical name, as the CLI prints it
      detail.textContent = ` — ${s.detail}`;
      item.append(detail);
    }
    list.append(item);
  }
  parts.push(list);
  box.replaceChildren(...parts);
  box.dataset.readingVerified = String(ok);
  box.classList.toggle('reading-ok', ok);
  box.classList.toggle('reading-failed', !ok);
}
