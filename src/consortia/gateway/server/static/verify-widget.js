// The "verify this transaction" widget: wires verifier.js to a transaction page.
//
// Markup (the page provides it; only the container and the button are required):
//
//   <section data-verify-proof="/api/channels/ch1/transactions/<tx>/proof"
//            data-consistency-url="/api/channels/ch1/consistency"
//            data-tx-id="<tx>" data-channel="ch1"    (optional: taken from the proof URL when absent)
//            data-verify-ok-text="…" data-verify-failed-text="…">   (optional: the verdict in the page's words)
//     <button type="button" data-verify-button>Verify in this browser</button>
//     <p data-verify-summary></p>           (created when missing)
//     <ol data-verify-steps></ol>           (created when missing)
//   </section>
//
// Pressing the button fetches the proof (same origin, with the session cookie), verifies it, checks that the
// envelope is the transaction the page is about (data-tx-id and data-channel, else the ids in the proof URL),
// checks the ordering CA against the one pinned for the channel, and, when a header of the channel was verified
// before, fetches and checks a consistency proof between the two, so the ledger seen now provably extends the one
// seen then. Each step becomes an <li data-step-ok="true|false">; the container gets data-verify-result="ok" or
// "failed" and the class verify-ok or verify-failed. Only a fully verified result is remembered (newer header,
// CA pin).

import {
  checkPinnedCa,
  checkProof,
  checkTransaction,
  loadPinnedCas,
  loadTrusted,
  savePinnedCas,
  saveTrusted,
  stepsHold,
  trustRecord,
  verifyConsistencyWith,
} from './verifier.js';

const FETCH_STEP = 'fetch the proof from the server';
const CONSISTENCY_FETCH_STEP = 'fetch the consistency proof from the server';
const SAME_HEADER_STEP = 'header matches the trusted header of this block';

// Defaults of zero specificity (:where), so any rule of the page wins; set through the CSSOM, which a
// Content-Security-Policy without 'unsafe-inline' allows.
const DEFAULT_CSS = `
:where(.verify-ok) { color: #1a7f37; }
:where(.verify-failed) { color: #b42318; }
:where([data-verify-steps]) { list-style: none; padding-left: 0; }
:where([data-verify-steps] li) { margin: 0.2em 0; }
:where([data-verify-steps] .verify-detail) { color: #555; font-size: 0.9em; overflow-wrap: anywhere; }
`;

function installDefaultStyles() {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(DEFAULT_CSS);
    document.adoptedStyleSheets = [sheet, ...document.adoptedStyleSheets];
  } catch {
    // An old browser: unstyled but working.
  }
}

/** Fetch JSON from the page's own origin with its cookies; throws with the HTTP status or problem detail. */
async function fetchJson(url) {
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
  return response.json();
}

function part(container, selector, tag, after) {
  let element = container.querySelector(selector);
  if (!element) {
    element = document.createElement(tag);
    element.setAttribute(selector.slice(1, -1), '');
    after.after(element);
  }
  return element;
}

/** Render steps and the result. Only textContent: server-supplied details never become markup. */
function render(container, steps, summaryText) {
  const button = container.querySelector('button[data-verify-button]');
  const summary = part(container, '[data-verify-summary]', 'p', button);
  const list = part(container, '[data-verify-steps]', 'ol', summary);
  list.replaceChildren(
    ...steps.map((s) => {
      const item = document.createElement('li');
      item.dataset.stepOk = String(s.ok);
      item.className = s.ok ? 'verify-ok' : 'verify-failed';
      const mark = document.createElement('span');
      mark.className = 'verify-mark';
      mark.setAttribute('aria-label', s.ok ? 'holds' : 'fails');
      mark.textContent = s.ok ? '✔' : '✘';
      const name = document.createElement('span');
      name.className = 'verify-name';
      name.textContent = ` ${s.name}`;
      item.append(mark, name);
      if (s.detail) {
        const detail = document.createElement('span');
        detail.className = 'verify-detail';
        detail.textContent = ` — ${s.detail}`;
        item.append(detail);
      }
      return item;
    }),
  );
  const ok = stepsHold(steps);
  const failed = steps.find((s) => !s.ok);
  // A page in another language names the verdict in its own words (data-verify-ok-text, data-verify-failed-text);
  // the steps are the verifier's technical English, and the markup says so.
  const words = ok ? container.dataset.verifyOkText : container.dataset.verifyFailedText;
  const otherLanguage = !(document.documentElement.lang || 'en').toLowerCase().startsWith('en');
  if (otherLanguage) list.lang = 'en';
  if (words) {
    summary.textContent = words;
    summary.removeAttribute('lang');
  } else {
    summary.textContent = ok ? `Verified: ${summaryText}` : `Verification failed at: ${failed?.name ?? 'no step ran'}`;
    if (otherLanguage) summary.lang = 'en';
  }
  summary.setAttribute('role', 'status');
  container.dataset.verifyResult = ok ? 'ok' : 'failed';
  container.classList.toggle('verify-ok', ok);
  container.classList.toggle('verify-failed', !ok);
  summary.className = ok ? 'verify-ok' : 'verify-failed';
}

/** What the page asks about: data-tx-id / data-channel, else the ids in the proof URL's path. */
function pageTarget(container) {
  const path = new URL(container.dataset.verifyProof, document.baseURI).pathname;
  const match = /\/channels\/([^/]+)\/transactions\/([^/]+)\/proof$/.exec(path);
  const fromPath = (i) => (match ? decodeURIComponent(match[i]) : undefined);
  return { txId: container.dataset.txId ?? fromPath(2), channel: container.dataset.channel ?? fromPath(1) };
}

/** Run the whole check for one container → {steps, summary}. */
async function verifyContainer(container) {
  const steps = [];
  let doc;
  try {
    doc = await fetchJson(container.dataset.verifyProof);
  } catch (error) {
    steps.push({ name: FETCH_STEP, ok: false, detail: error.message });
    return { steps, summary: '' };
  }
  const proof = await checkProof(doc);
  steps.push(...proof.steps);
  if (!stepsHold(steps)) return { steps, summary: '' };

  const header = proof.header;
  const channel = header.channel; // the channel the orderer signed, not what the URL or document claims
  const current = trustRecord(header, proof.headerHash);
  steps.push(await checkTransaction(doc, header, pageTarget(container)));
  steps.push(checkPinnedCa(channel, proof.ca));
  if (!stepsHold(steps)) return { steps, summary: '' };

  let summary = `transaction in block ${header.number} of channel ${channel} (history of ${header.history_size})`;
  const trusted = loadTrusted(channel);
  let newest = trusted ?? current; // what to remember: unchanged unless a consistency proof links the two
  if (trusted && trusted.number === current.number) {
    const same = trusted.header_hash === current.header_hash;
    steps.push({ name: SAME_HEADER_STEP, ok: same, detail: `block ${current.number}: ${current.header_hash}` });
  } else if (trusted && container.dataset.consistencyUrl) {
    // Prove that the later of the two headers extends the earlier one, whichever of them is the trusted one.
    const [older, newer] = trusted.number < current.number ? [trusted, current] : [current, trusted];
    newest = newer;
    const url = new URL(container.dataset.consistencyUrl, document.baseURI);
    url.searchParams.set('from', String(older.number));
    url.searchParams.set('to', String(newer.number));
    let consistency = null;
    try {
      consistency = await fetchJson(url);
    } catch (error) {
      steps.push({ name: CONSISTENCY_FETCH_STEP, ok: false, detail: error.message });
    }
    if (consistency !== null) {
      const options = { orderingCas: proof.ordererCas, newHeaderHash: newer.header_hash };
      steps.push(...(await verifyConsistencyWith(older, consistency, options)));
      summary += `; consistent with block ${trusted.number} verified before`;
    }
  }
  if (stepsHold(steps)) {
    try {
      if (loadPinnedCas(channel) === null) savePinnedCas(channel, proof.ordererCas.map((ca) => ca.fingerprint));
      saveTrusted(channel, newest);
    } catch {
      summary += ' (this browser could not store it for next time)'; // storage full or disabled
    }
  }
  return { steps, summary };
}

/** Wire one [data-verify-proof] container (idempotent). */
export function wireVerifyWidget(container) {
  const button = container.querySelector('button[data-verify-button]');
  if (!button || container.dataset.verifyReady === 'true') return;
  container.dataset.verifyReady = 'true';
  button.addEventListener('click', async () => {
    button.disabled = true;
    container.dataset.verifyResult = 'running';
    container.setAttribute('aria-busy', 'true');
    try {
      const { steps, summary } = await verifyContainer(container);
      render(container, steps, summary);
    } catch (error) {
      render(container, [{ name: 'verifier ran to the end', ok: false, detail: String(error?.message ?? error) }]);
    } finally {
      container.removeAttribute('aria-busy');
      button.disabled = false;
    }
  });
}

/** Wire every widget under `root`. */
export function initVerifyWidgets(root = document) {
  root.querySelectorAll('[data-verify-proof]').forEach(wireVerifyWidget);
}

installDefaultStyles();
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', () => initVerifyWidgets());
} else {
  initVerifyWidgets();
}
