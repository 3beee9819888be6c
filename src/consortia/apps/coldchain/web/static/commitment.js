// The cold chain's part of a step's proof: its leaf is in its capture's Merkle tree, and that tree's root is what
// the capture transaction carries — the transaction's only argument (with the leaf count). The gateway's
// verifier.js proves the transaction itself against its orderer-signed block header; this file proves the rest.
// Mirrors consortia/apps/coldchain/service/proofs.py (verify_journey) and commitment.py, step for step.
//
// A capture's events never reach the ledger: each leaf is the canonical JSON of one event's public projection for
// one lot (time, place, step, the key data elements consumers see, and "sealed", a salted hash of the full event).
// The page shows a step only as its leaf says it: any field shown that the leaf does not commit to fails the step.

export const LEAF_FORMAT = 'coldchain-leaf/v1';
export const CONTRACT = 'coldchain';
export const STEP_NAMES = Object.freeze({
  shows: 'the step shows what its leaf commits to',
  root: 'the capture transaction carries a Merkle root',
  inclusion: "leaf is in the capture's tree whose root the transaction carries (RFC 9162 inclusion)",
});

// -- MessagePack: just enough to read a transaction envelope's proposal (consortia/ledger/transaction.py) --------

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  take(n) {
    if (this.pos + n > this.bytes.length) throw new Error('msgpack: truncated');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  be(n) {
    let value = 0;
    for (const b of this.take(n)) value = value * 256 + b;
    return value;
  }

  array() {
    const t = this.take(1)[0];
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t === 0xdc) return this.be(2);
    if (t === 0xdd) return this.be(4);
    throw new Error(`msgpack: expected an array, found type byte 0x${t.toString(16)}`);
  }

  uint() {
    const t = this.take(1)[0];
    if (t <= 0x7f) return t;
    if (t === 0xcc) return this.be(1);
    if (t === 0xcd) return this.be(2);
    if (t === 0xce) return this.be(4);
    if (t === 0xcf) return this.be(8);
    throw new Error(`msgpack: expected a non-negative integer, found type byte 0x${t.toString(16)}`);
  }

  str() {
    const t = this.take(1)[0];
    let length;
    if (t >= 0xa0 && t <= 0xbf) length = t & 0x1f;
    else if (t === 0xd9) length = this.be(1);
    else if (t === 0xda) length = this.be(2);
    else if (t === 0xdb) length = this.be(4);
    else throw new Error(`msgpack: expected a string, found type byte 0x${t.toString(16)}`);
    return new TextDecoder('utf-8', { fatal: true }).decode(this.take(length));
  }

  bin() {
    const t = this.take(1)[0];
    let length;
    if (t === 0xc4) length = this.be(1);
    else if (t === 0xc5) length = this.be(2);
    else if (t === 0xc6) length = this.be(4);
    else throw new Error(`msgpack: expected binary data, found type byte 0x${t.toString(16)}`);
    return this.take(length);
  }
}

/** Envelope [kind, payload, signature] → Transaction [proposal, …] → Proposal: contract, function, txId, args. */
export function proposalOf(envelope) {
  const e = new Reader(envelope);
  if (e.array() !== 3) throw new Error('envelope: expected [kind, payload, signature]');
  if (e.uint() !== 0) throw new Error('the envelope is not a transaction');
  const t = new Reader(e.bin());
  if (t.array() !== 3) throw new Error('transaction: expected [proposal, response, endorsements]');
  const p = new Reader(t.bin());
  if (p.array() !== 9) throw new Error('proposal: expected 9 fields');
  const channel = p.str();
  const contract = p.str();
  const fn = p.str();
  const args = [];
  for (let n = p.array(); n > 0; n--) args.push(p.str());
  p.bin(); // transient_hash
  p.bin(); // nonce
  p.bin(); // creator
  p.uint(); // timestamp_ms
  const txId = p.str();
  return { channel, contract, function: fn, txId, args };
}

/** The (root, count) a capture transaction's envelope commits to; throws when it is not a capture. */
export function committedRoot(envelope, hexToBytes) {
  const proposal = proposalOf(envelope);
  if (proposal.contract !== CONTRACT || proposal.function !== 'capture') {
    throw new Error(`the transaction calls ${proposal.contract}.${proposal.function}, not ${CONTRACT}.capture`);
  }
  if (proposal.args.length !== 2) throw new Error(`a capture has 2 arguments, this one ${proposal.args.length}`);
  const root = JSON.parse(proposal.args[0]);
  const count = JSON.parse(proposal.args[1]);
  if (typeof root !== 'string' || !Number.isSafeInteger(count)) throw new Error('expected (root hex, leaf count)');
  return { root: hexToBytes(root), count, txId: proposal.txId };
}

// -- a step against its leaf --------------------------------------------------------------------------------------

/** JSON with sorted keys, so that two values compare equal exactly when they are the same JSON value. */
function canon(value) {
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canon(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

/** What a step shows that its leaf does not say ([] when every shown fact is committed). */
export function mismatches(step, leaf, lots) {
  const problems = [];
  const pairs = [
    ['eventID', step.eventID, leaf.eventID],
    ['time', step.time_ms, leaf.eventTime],
    ['offset', step.offset, leaf.offset],
    ['cte', step.cte, leaf.cte],
    ['bizStep', step.bizStep, leaf.bizStep],
    ['disposition', step.disposition, leaf.disposition],
    ['location', step.location ? step.location.id : null, leaf.location],
    ['kdes', step.kdes, leaf.kdes],
    ['lots', step.lots, leaf.lot ? [leaf.lot] : []],
  ];
  for (const [name, shown, committed] of pairs) {
    if (canon(shown) !== canon(committed)) problems.push(`${name} differs from the leaf`);
  }
  if (leaf.format !== LEAF_FORMAT) problems.push(`leaf format ${leaf.format}`);
  if (leaf.lot !== null && !lots.has(leaf.lot)) problems.push(`the leaf is about lot ${leaf.lot}, not on this journey`);
  return problems;
}

/**
 * Check a step's commitment: it shows what its leaf says, and the leaf is in the capture tree whose root the
 * transaction's envelope carries. `verifier` is the gateway's verifier.js module. → [{name, ok, detail}]
 */
export async function checkCommitment(step, proofDoc, lots, verifier) {
  const steps = [];
  const add = (name, ok, detail = '') => steps.push({ name, ok: Boolean(ok), detail: String(detail) });
  let leaf, text, committed;
  try {
    text = step.commitment.leaf;
    leaf = JSON.parse(text);
  } catch (error) {
    add(STEP_NAMES.shows, false, `no readable leaf: ${error?.message || error}`);
    return steps;
  }
  const problems = mismatches(step, leaf, lots);
  add(STEP_NAMES.shows, problems.length === 0, problems.join('; '));
  try {
    committed = committedRoot(verifier.base64ToBytes(proofDoc.envelope), verifier.hexToBytes);
  } catch (error) {
    add(STEP_NAMES.root, false, error?.message || error);
    return steps;
  }
  let ok = false;
  try {
    const { index, count, path } = step.commitment;
    const hash = await verifier.leafHash(new TextEncoder().encode(text));
    ok = count === committed.count &&
      (await verifier.verifyInclusion(hash, index, count, path.map(verifier.hexToBytes), committed.root));
  } catch {
    ok = false;
  }
  add(STEP_NAMES.inclusion, ok, `leaf ${step.commitment?.index} of ${step.commitment?.count}`);
  return steps;
}
