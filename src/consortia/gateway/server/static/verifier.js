// Consortia proof verifier: checks, in the browser, that a transaction is in the ledger, trusting no server.
//
// A proof document (format "consortia-proof/v1", built by consortia/ledger/proof.py) carries a transaction's
// envelope, its RFC 9162 inclusion proofs in its block's Merkle tree and in the ledger-wide history tree, the block
// header (canonical MessagePack bytes) with the orderer's Ed25519 signature and certificate, and the CA
// certificates of the channel's ordering organisations. verifyProof() re-checks all of it step by step, with the
// same step names as the Python reference checker check_proof().
//
// A later visit can then check that the ledger only grew: the newest header verified so far is remembered per
// channel (localStorage), and an RFC 9162 consistency proof from it to a newer signed header shows that the newer
// history extends the older one. The ordering CAs are pinned on first use per channel (TOFU).
//
// Cryptography: WebCrypto (crypto.subtle) when the page has it; browsers offer it only in secure contexts, so
// otherwise the vendored @noble/hashes and @noble/curves (see vendor/README.md) do the same computations.
// No dependency, no build step: this file is what runs.

// ---------------------------------------------------------------------------------------------------------------
// Bytes, hex, base64

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Hex string → Uint8Array; throws on anything but an even number of hex digits. */
export function hexToBytes(hex) {
  if (typeof hex !== 'string' || !HEX.test(hex)) throw new Error('expected a hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

/** Uint8Array → lower-case hex (as Python's bytes.hex()). */
export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Strict base64 (as Python's b64decode(validate=True)) → Uint8Array. */
export function base64ToBytes(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) throw new Error('expected base64');
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Every certificate in a PEM text, as DER. */
export function pemToDer(pem) {
  if (typeof pem !== 'string') throw new Error('expected PEM text');
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((m) => base64ToBytes(m[1].replace(/\s+/g, '')));
}

export function equalBytes(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------------------------
// Crypto back ends: WebCrypto when present (and not refused with {forceFallback: true}), else noble.

let nobleHashes = null;
let nobleCurves = null;
// Loaded on first use only; a failed load (e.g. the network dropped) is retried next time.
const loadNobleHashes = () =>
  (nobleHashes ??= import('./vendor/noble-hashes/sha2.js').catch((error) => {
    nobleHashes = null;
    throw error;
  }));
const loadNobleCurves = () =>
  (nobleCurves ??= import('./vendor/noble-curves/ed25519.js').catch((error) => {
    nobleCurves = null;
    throw error;
  }));

function useWebCrypto(options) {
  return !options?.forceFallback && typeof globalThis.crypto?.subtle?.digest === 'function';
}

/** SHA-256 of bytes. */
export async function sha256(bytes, options = {}) {
  if (useWebCrypto(options)) return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const { sha256: nobleSha256 } = await loadNobleHashes();
  return nobleSha256(bytes);
}

let webCryptoHasEd25519 = null; // unknown until first tried

/**
 * Ed25519 verification (RFC 8032) → {ok, engine}; never throws. engine names the implementation that answered.
 * noble runs with zip215: false (strict RFC 8032 decoding, small-order keys refused), as libsodium on the server.
 */
export async function ed25519VerifyDetailed(publicKey, message, signature, options = {}) {
  const bytes = (v, n) => v instanceof Uint8Array && (n === undefined || v.length === n);
  if (!bytes(publicKey, 32) || !bytes(signature, 64) || !bytes(message)) return { ok: false, engine: 'none' };
  if (useWebCrypto(options) && webCryptoHasEd25519 !== false) {
    try {
      const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      webCryptoHasEd25519 = true;
      return { ok: await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message), engine: 'WebCrypto' };
    } catch (error) {
      // An older browser without Ed25519 in WebCrypto: remember, and let noble answer (now and from now on).
      if (error?.name === 'NotSupportedError') webCryptoHasEd25519 = false;
    }
  }
  try {
    const { ed25519 } = await loadNobleCurves();
    return { ok: ed25519.verify(signature, message, publicKey, { zip215: false }), engine: 'noble-curves' };
  } catch {
    return { ok: false, engine: 'noble-curves' };
  }
}

/** Ed25519 verification → boolean; never throws. */
export async function ed25519Verify(publicKey, message, signature, options = {}) {
  return (await ed25519VerifyDetailed(publicKey, message, signature, options)).ok;
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 9162 Merkle trees (mirrors consortia/ledger/merkle.py, including its strictness)

export const HASH_SIZE = 32;
export const MAX_TREE_SIZE = (1n << 64n) - 1n; // RFC 9162 sizes are uint64
export const EMPTY_ROOT = hexToBytes('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

/** SHA-256(0x00 ‖ data): the hash of a leaf. */
export async function leafHash(data, options = {}) {
  return sha256(concat(new Uint8Array([0]), data), options);
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
export async function nodeHash(left, right, options = {}) {
  return sha256(concat(new Uint8Array([1]), left, right), options);
}

const isHash = (v) => v instanceof Uint8Array && v.length === HASH_SIZE;

/**
 * A tree size or index as a BigInt, or null when it is not one: a non-negative integer up to 2^64 - 1, given as a
 * BigInt or as a Number that is a safe integer (a larger Number may have been rounded by JSON.parse: refused).
 */
export function toSize(value) {
  if (typeof value === 'bigint') return value >= 0n && value <= MAX_TREE_SIZE ? value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return null;
}

/** RFC 9162 §2.1.3.2: is leafHash at `index` of the tree of `treeSize` leaves with `root`? Never throws. */
export async function verifyInclusion(leaf, index, treeSize, proof, root, options = {}) {
  try {
    if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof)) return false;
    let fn = toSize(index);
    let sn = toSize(treeSize);
    if (fn === null || sn === null || fn >= sn) return false;
    sn -= 1n;
    let r = leaf;
    for (const p of proof) {
      // Reaching the top with elements left over means the proof is padded.
      if (sn === 0n || !isHash(p)) return false;
      if (fn % 2n === 1n || fn === sn) {
        r = await nodeHash(p, r, options);
        // A right-edge node with no right sibling is lifted unchanged: skip the levels where it has none.
        if (fn % 2n === 0n) {
          while (fn !== 0n && fn % 2n === 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await nodeHash(r, p, options);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    // sn reaches 0 exactly when the path climbed to the root; a truncated proof leaves it positive.
    return sn === 0n && equalBytes(r, root);
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2: is the tree of size2 leaves with root2 an extension of the one of size1 with root1? */
export async function verifyConsistency(size1, size2, proof, root1, root2, options = {}) {
  try {
    if (!isHash(root1) || !isHash(root2) || !Array.isArray(proof)) return false;
    const m = toSize(size1);
    const n = toSize(size2);
    if (m === null || n === null || m > n) return false;
    if (m === n) {
      // Nothing appended: nothing to prove; the roots must simply agree.
      return proof.length === 0 && equalBytes(root1, root2) && (m !== 0n || equalBytes(root1, EMPTY_ROOT));
    }
    if (m === 0n) return proof.length === 0 && equalBytes(root1, EMPTY_ROOT); // every tree extends the empty one
    if (proof.length === 0) return false;

    // When the old tree is a complete subtree of the new one, the prover leaves out its root: start from it.
    const path = (m & (m - 1n)) === 0n ? [root1, ...proof] : [...proof];
    let fn = m - 1n;
    let sn = n - 1n;
    while (fn % 2n === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    if (!isHash(path[0])) return false;
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n || !isHash(c)) return false;
      if (fn % 2n === 1n || fn === sn) {
        fr = await nodeHash(c, fr, options);
        sr = await nodeHash(c, sr, options);
        if (fn % 2n === 0n) {
          while (fn !== 0n && fn % 2n === 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        sr = await nodeHash(sr, c, options); // right siblings exist only in the new tree
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    // Both counters must have reached the root, or a proof that stops early or wanders off would pass.
    return sn === 0n && fn === 0n && equalBytes(fr, root1) && equalBytes(sr, root2);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// MessagePack, only as much as a block header needs, and only in its canonical (shortest) forms, as the Python
// side's decode_canonical() insists: [channel str, number uint, previous_hash bin, data_hash bin,
// history_root bin, history_size uint, timestamp_ms uint].

class MsgpackReader {
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
    let value = 0n;
    for (const b of this.take(n)) value = (value << 8n) | BigInt(b);
    return value;
  }

  // A length or value in an n-byte big-endian field that must not fit the next shorter form.
  sized(n, min, what) {
    const value = this.be(n);
    if (value < min) throw new Error(`msgpack: ${what} is not in its shortest form`);
    return value;
  }

  array() {
    const t = this.take(1)[0];
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t === 0xdc) return Number(this.sized(2, 16n, 'array length'));
    throw new Error(`msgpack: expected an array, found type byte 0x${t.toString(16)}`);
  }

  uint() {
    const t = this.take(1)[0];
    let value;
    if (t <= 0x7f) value = BigInt(t);
    else if (t === 0xcc) value = this.sized(1, 0x80n, 'integer');
    else if (t === 0xcd) value = this.sized(2, 0x100n, 'integer');
    else if (t === 0xce) value = this.sized(4, 0x10000n, 'integer');
    else if (t === 0xcf) value = this.sized(8, 0x100000000n, 'integer');
    else throw new Error(`msgpack: expected a non-negative integer, found type byte 0x${t.toString(16)}`);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('msgpack: integer too large for this verifier');
    return Number(value);
  }

  str() {
    const t = this.take(1)[0];
    let length;
    if (t >= 0xa0 && t <= 0xbf) length = t & 0x1f;
    else if (t === 0xd9) length = Number(this.sized(1, 32n, 'string length'));
    else if (t === 0xda) length = Number(this.sized(2, 0x100n, 'string length'));
    else if (t === 0xdb) length = Number(this.sized(4, 0x10000n, 'string length'));
    else throw new Error(`msgpack: expected a string, found type byte 0x${t.toString(16)}`);
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(this.take(length));
  }

  bin() {
    const t = this.take(1)[0];
    let length;
    if (t === 0xc4) length = Number(this.be(1));
    else if (t === 0xc5) length = Number(this.sized(2, 0x100n, 'binary length'));
    else if (t === 0xc6) length = Number(this.sized(4, 0x10000n, 'binary length'));
    else throw new Error(`msgpack: expected binary data, found type byte 0x${t.toString(16)}`);
    return this.take(length).slice();
  }

  end() {
    if (this.pos !== this.bytes.length) throw new Error('msgpack: trailing bytes after the value');
  }
}

/** Decode a block header's canonical bytes (hashes as Uint8Array); throws on anything else. */
export function decodeHeader(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new Error('header: expected bytes');
  const r = new MsgpackReader(bytes);
  const fields = r.array();
  if (fields !== 7) throw new Error(`malformed BlockHeader: expected an array of 7 fields, got ${fields}`);
  const header = {
    channel: r.str(),
    number: r.uint(),
    previous_hash: r.bin(),
    data_hash: r.bin(),
    history_root: r.bin(),
    history_size: r.uint(),
    timestamp_ms: r.uint(),
  };
  r.end();
  return header;
}

/** A decoded header as the proof document's JSON form (hashes in hex), as Python's header_json(). */
export function headerJson(header) {
  return {
    channel: header.channel,
    number: header.number,
    previous_hash: bytesToHex(header.previous_hash),
    data_hash: bytesToHex(header.data_hash),
    history_root: bytesToHex(header.history_root),
    history_size: header.history_size,
    timestamp_ms: header.timestamp_ms,
  };
}

export const HEADER_SIGNING_TAG = utf8.encode('consortia/block-header/v1\0');

/** The bytes the orderer signs: a domain tag and the canonical header. */
export function headerSigningBytes(headerBytes) {
  return concat(HEADER_SIGNING_TAG, headerBytes);
}

// ---------------------------------------------------------------------------------------------------------------
// DER and X.509, only as much as Ed25519 identity certificates need.

const TAG = { BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, OID: 0x06, SEQUENCE: 0x30 };
const OID_ORGANIZATION = '55040a'; // 2.5.4.10  O
const OID_ORGANIZATIONAL_UNIT = '55040b'; // 2.5.4.11  OU
const OID_COMMON_NAME = '550403'; // 2.5.4.3   CN
const OID_BASIC_CONSTRAINTS = '551d13'; // 2.5.29.19
const ED25519_ALGORITHM = hexToBytes('300506032b6570'); // AlgorithmIdentifier { 1.3.101.112 }, no parameters
const ED25519_SPKI_PREFIX = hexToBytes('302a300506032b6570032100'); // SubjectPublicKeyInfo up to the 32 key bytes

/** One DER element at `pos`: {tag, start (of the header), body (start of the content), end}. */
function derElement(bytes, pos, end = bytes.length) {
  if (pos + 2 > end) throw new Error('DER: truncated');
  const tag = bytes[pos];
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: unexpected high tag number');
  let length = bytes[pos + 1];
  let body = pos + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || body + n > end) throw new Error('DER: bad length');
    if (bytes[body] === 0) throw new Error('DER: length not in its shortest form');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[body + i];
    body += n;
    if (length < 0x80) throw new Error('DER: length not in its shortest form');
  }
  if (body + length > end) throw new Error('DER: truncated');
  return { tag, start: pos, body, end: body + length };
}

/** The elements inside a constructed element. */
function derChildren(bytes, parent) {
  const out = [];
  for (let pos = parent.body; pos < parent.end; ) {
    const child = derElement(bytes, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

function expectTag(element, tag, what) {
  if (!element || element.tag !== tag) throw new Error(`certificate: expected ${what}`);
  return element;
}

const whole = (bytes, e) => bytes.subarray(e.start, e.end);
const content = (bytes, e) => bytes.subarray(e.body, e.end);

function derTime(bytes, element) {
  const text = String.fromCharCode(...content(bytes, element));
  let m;
  if (element.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    m[1] = String(yy < 50 ? 2000 + yy : 1900 + yy); // RFC 5280 §4.1.2.5.1
  } else if (element.tag !== 0x18 || !(m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    throw new Error('certificate: validity is not a UTCTime or GeneralizedTime in UTC');
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** A Name's attributes: [{oid (hex of the DER content), value}], in order. */
function derName(bytes, name) {
  const attributes = [];
  for (const rdn of derChildren(bytes, expectTag(name, TAG.SEQUENCE, 'a Name'))) {
    expectTag(rdn, 0x31, 'a relative distinguished name (SET)');
    for (const atv of derChildren(bytes, rdn)) {
      const [type, value, extra] = derChildren(bytes, expectTag(atv, TAG.SEQUENCE, 'an attribute'));
      expectTag(type, TAG.OID, 'an attribute type');
      // UTF8String, PrintableString, IA5String: what DirectoryString values are in practice.
      if (!value || extra || ![0x0c, 0x13, 0x16].includes(value.tag)) throw new Error('certificate: odd Name value');
      const text = new TextDecoder('utf-8', { fatal: true }).decode(content(bytes, value));
      attributes.push({ oid: bytesToHex(content(bytes, type)), value: text });
    }
  }
  return attributes;
}

/** The single value of a Name attribute; a missing or repeated one is an error (as certificate.py). */
function nameValue(attributes, oid, label) {
  const values = attributes.filter((a) => a.oid === oid).map((a) => a.value);
  if (values.length !== 1) throw new Error(`certificate subject has ${values.length} ${label} attributes, not one`);
  if (!values[0]) throw new Error(`certificate subject ${label} is empty`);
  return values[0];
}

/**
 * Read an Ed25519 X.509 certificate (DER). Returns {tbs, signature, publicKey, issuer, subject (Name DER bytes),
 * subjectAttributes, notBefore, notAfter (epoch ms), isCa}; throws when it is not such a certificate.
 */
export function parseCertificate(der) {
  if (!(der instanceof Uint8Array)) throw new Error('certificate: expected DER bytes');
  const certificate = expectTag(derElement(der, 0), TAG.SEQUENCE, 'a SEQUENCE');
  if (certificate.end !== der.length) throw new Error('certificate: trailing bytes');
  const parts = derChildren(der, certificate);
  if (parts.length !== 3) throw new Error('certificate: expected tbsCertificate, algorithm, signature');
  const [tbs, algorithm, signatureValue] = parts;
  expectTag(tbs, TAG.SEQUENCE, 'a tbsCertificate');
  if (!equalBytes(whole(der, algorithm), ED25519_ALGORITHM)) throw new Error('certificate: not signed with Ed25519');
  const signature = content(der, expectTag(signatureValue, TAG.BIT_STRING, 'a signature BIT STRING'));
  if (signature.length !== 65 || signature[0] !== 0) throw new Error('certificate: not a 64-byte Ed25519 signature');

  const fields = derChildren(der, tbs);
  let i = 0;
  if (fields[i]?.tag === 0xa0) {
    const version = derChildren(der, fields[i++]);
    if (version.length !== 1 || !equalBytes(whole(der, version[0]), new Uint8Array([2, 1, 2]))) {
      throw new Error('certificate: not an X.509 v3 certificate');
    }
  }
  expectTag(fields[i++], TAG.INTEGER, 'a serial number');
  if (!fields[i] || !equalBytes(whole(der, fields[i++]), ED25519_ALGORITHM)) {
    throw new Error('certificate: inner signature algorithm is not Ed25519');
  }
  const issuer = expectTag(fields[i++], TAG.SEQUENCE, 'an issuer Name');
  const validity = derChildren(der, expectTag(fields[i++], TAG.SEQUENCE, 'a validity'));
  if (validity.length !== 2) throw new Error('certificate: validity needs notBefore and notAfter');
  const subject = expectTag(fields[i++], TAG.SEQUENCE, 'a subject Name');
  const spki = whole(der, expectTag(fields[i++], TAG.SEQUENCE, 'a subject public key'));
  if (spki.length !== 44 || !equalBytes(spki.subarray(0, 12), ED25519_SPKI_PREFIX)) {
    throw new Error('certificate key is not an Ed25519 key');
  }
  while (fields[i]?.tag === 0x81 || fields[i]?.tag === 0x82) i++; // issuer and subject unique ids (unused)
  let isCa = false;
  if (fields[i]?.tag === 0xa3) {
    const [list, extra] = derChildren(der, fields[i++]);
    if (extra) throw new Error('certificate: malformed extensions');
    const seen = new Set();
    for (const extension of derChildren(der, expectTag(list, TAG.SEQUENCE, 'extensions'))) {
      const [id, ...rest] = derChildren(der, expectTag(extension, TAG.SEQUENCE, 'an extension'));
      const oid = bytesToHex(content(der, expectTag(id, TAG.OID, 'an extension id')));
      if (rest.length < 1 || rest.length > 2 || (rest.length === 2 && rest[0].tag !== TAG.BOOLEAN)) {
        throw new Error('certificate: malformed extension');
      }
      if (seen.has(oid)) throw new Error('certificate: duplicate extension');
      seen.add(oid);
      const value = expectTag(rest.at(-1), TAG.OCTET_STRING, 'an extension value');
      if (oid === OID_BASIC_CONSTRAINTS) {
        const constraints = derElement(der, value.body, value.end);
        if (constraints.end !== value.end) throw new Error('certificate: malformed basic constraints');
        const [first] = derChildren(der, expectTag(constraints, TAG.SEQUENCE, 'basic constraints'));
        isCa = first?.tag === TAG.BOOLEAN && content(der, first)[0] === 0xff;
      }
    }
  }
  if (i !== fields.length) throw new Error('certificate: unexpected fields in tbsCertificate');

  return {
    der,
    tbs: whole(der, tbs),
    signature: signature.subarray(1),
    publicKey: spki.subarray(12),
    issuer: whole(der, issuer),
    subject: whole(der, subject),
    subjectAttributes: derName(der, subject),
    notBefore: derTime(der, validity[0]),
    notAfter: derTime(der, validity[1]),
    isCa,
  };
}

/** The O, OU and CN of a certificate's subject (each exactly once). */
export function certificateNames(cert) {
  return {
    org: nameValue(cert.subjectAttributes, OID_ORGANIZATION, 'O (organisation)'),
    kind: nameValue(cert.subjectAttributes, OID_ORGANIZATIONAL_UNIT, 'OU (kind)'),
    name: nameValue(cert.subjectAttributes, OID_COMMON_NAME, 'CN (name)'),
  };
}

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

/**
 * Is `certDer` issued by the CA of `caDer` and valid at `atMs`? Issuer = CA subject, the CA's Ed25519 signature
 * over the TBS bytes verifies, notBefore ≤ atMs ≤ notAfter. Returns {ok, detail}; never throws.
 */
export async function verifyCertificate(certDer, caDer, atMs, options = {}) {
  try {
    const cert = parseCertificate(certDer);
    const ca = parseCertificate(caDer);
    if (!equalBytes(cert.issuer, ca.subject)) return { ok: false, detail: 'issuer is not the CA' };
    if (!(await ed25519Verify(ca.publicKey, cert.tbs, cert.signature, options))) {
      return { ok: false, detail: 'the CA signature on it does not verify' };
    }
    if (atMs > cert.notAfter) return { ok: false, detail: `expired at ${iso(cert.notAfter)}` };
    if (atMs < cert.notBefore) return { ok: false, detail: `not valid until ${iso(cert.notBefore)}` };
    return { ok: true, detail: '' };
  } catch (error) {
    return { ok: false, detail: messageOf(error) };
  }
}

/**
 * Ordering CAs to trust: a PEM text (one or more certificates), a {org: PEM or base64 DER} map as in a proof
 * document's orderer_cas, or the list this function returns. Each must be a valid self-signed Ed25519 CA (CA:TRUE)
 * whose subject O is its organisation, as Membership's trust anchors. Returns [{org, der, cert, fingerprint}].
 */
export async function loadOrderingCas(input, options = {}) {
  if (Array.isArray(input) && input.every((ca) => ca?.cert && ca?.fingerprint)) return input;
  let entries;
  if (typeof input === 'string') entries = pemToDer(input).map((der) => [null, der]);
  else if (input && typeof input === 'object' && !Array.isArray(input)) {
    entries = Object.entries(input).map(([org, v]) => {
      if (typeof v !== 'string') throw new Error(`CA certificate of ${org}: expected PEM or base64 text`);
      return [org, v.startsWith('-----') ? pemToDer(v)[0] : base64ToBytes(v)];
    });
  } else throw new Error('no ordering CA certificates');
  const cas = [];
  for (const [key, der] of entries) {
    let cert;
    try {
      cert = parseCertificate(der);
    } catch (error) {
      throw new Error(`CA certificate of ${key ?? 'the trusted PEM'}: ${messageOf(error)}`);
    }
    const orgs = cert.subjectAttributes.filter((a) => a.oid === OID_ORGANIZATION).map((a) => a.value);
    const org = key ?? orgs[0];
    if (orgs.length !== 1 || orgs[0] !== org) throw new Error(`CA certificate of ${org}: its subject names ${orgs}`);
    if (!cert.isCa) throw new Error(`CA certificate of ${org}: it lacks the basic constraint CA:TRUE`);
    const selfSigned =
      equalBytes(cert.issuer, cert.subject) &&
      (await ed25519Verify(cert.publicKey, cert.tbs, cert.signature, options));
    if (!selfSigned) throw new Error(`CA certificate of ${org}: it is not a valid self-signed certificate`);
    cas.push({ org, der, cert, fingerprint: bytesToHex(await sha256(der, options)) });
  }
  return cas;
}

/**
 * Validate an orderer certificate against ordering CAs at `atMs` (as Membership.validate with kinds={ORDERER}).
 * Returns {name, org, publicKey, ca}; throws with the reason otherwise.
 */
export async function validateOrdererCertificate(certDer, cas, atMs, options = {}) {
  let cert;
  let names;
  try {
    cert = parseCertificate(certDer);
    names = certificateNames(cert);
  } catch (error) {
    throw new Error(`unreadable certificate: ${messageOf(error)}`);
  }
  const who = `certificate '${names.name}' of ${names.org}`;
  const ca = cas.find((c) => c.org === names.org);
  if (!ca) throw new Error(`${who}: ${names.org} is not a trusted ordering organisation`);
  const check = await verifyCertificate(certDer, ca.der, atMs, options);
  if (!check.ok) throw new Error(`${who}: ${check.detail}`);
  if (cert.isCa) throw new Error(`${who}: it is a CA certificate, not an identity`);
  if (names.kind !== 'orderer') throw new Error(`${who} is of kind ${names.kind}, not one of: orderer`);
  return { name: names.name, org: names.org, publicKey: cert.publicKey, ca };
}

// ---------------------------------------------------------------------------------------------------------------
// Proof documents (consortia/ledger/proof.py: build_proof and check_proof)

export const STEPS = Object.freeze({
  readable: 'proof document is readable',
  leaf: 'leaf hash = SHA-256(0x00 ‖ envelope)',
  paths: 'proof paths are hex',
  block: 'transaction is in the block (RFC 9162 inclusion up to data_hash)',
  history: 'transaction is in the ledger history (RFC 9162 inclusion up to history_root)',
  header: 'header fields match the signed header bytes',
  certificate: 'orderer certificate issued by a trusted ordering CA',
  signature: 'orderer signature over the header',
});

function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/** obj[key] of a JSON object, or a KeyError-like exception (as Python's doc["key"]). */
function field(obj, key) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new Error(`expected an object with "${key}"`);
  }
  if (!Object.hasOwn(obj, key)) throw new Error(`missing "${key}"`);
  return obj[key];
}

const get = (obj, key) => (obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key) ? obj[key] : undefined);

function sameJson(a, b) {
  if (a === null || typeof a !== 'object' || Array.isArray(a)) return false;
  const keys = Object.keys(b);
  return Object.keys(a).length === keys.length && keys.every((k) => Object.hasOwn(a, k) && a[k] === b[k]);
}

/**
 * Verify a proof document → {steps, header, headerHash, ordererCas, ca}. steps are [{name, ok, detail}] with the
 * names of check_proof(); every step must hold. A failing structural step stops the check, as in Python.
 * options: trustedCaPem (trust these ordering CAs instead of the document's), forceFallback (no WebCrypto).
 */
export async function checkProof(doc, options = {}) {
  const steps = [];
  const result = { steps, header: null, headerHash: null, ordererCas: null, ca: null };
  const step = (name, ok, detail = '') => {
    steps.push({ name, ok: Boolean(ok), detail: String(detail) });
    return Boolean(ok);
  };

  let envelope, headerBytes, header, leaf, blockProof, historyProof;
  try {
    envelope = base64ToBytes(field(doc, 'envelope'));
    headerBytes = base64ToBytes(field(doc, 'header_bytes'));
    header = decodeHeader(headerBytes);
    leaf = await leafHash(envelope, options);
    blockProof = field(doc, 'block_proof');
    historyProof = field(doc, 'history_proof');
    result.header = header;
    result.headerHash = bytesToHex(await sha256(headerBytes, options));
  } catch (error) {
    step(STEPS.readable, false, messageOf(error));
    return result;
  }
  step(STEPS.readable, true);
  if (!step(STEPS.leaf, bytesToHex(leaf) === get(doc, 'leaf_hash'), bytesToHex(leaf))) return result;

  let blockPath, historyPath;
  try {
    blockPath = field(blockProof, 'path').map(hexToBytes);
    historyPath = field(historyProof, 'path').map(hexToBytes);
  } catch (error) {
    step(STEPS.paths, false, error instanceof TypeError ? 'expected a list of hex strings' : messageOf(error));
    return result;
  }
  const [bIndex, bSize] = [get(blockProof, 'index'), get(blockProof, 'tree_size')];
  step(
    STEPS.block,
    await verifyInclusion(leaf, bIndex, bSize, blockPath, header.data_hash, options),
    `index ${bIndex} of ${bSize}`,
  );
  const [hIndex, hSize] = [get(historyProof, 'index'), get(historyProof, 'tree_size')];
  step(
    STEPS.history,
    (await verifyInclusion(leaf, hIndex, hSize, historyPath, header.history_root, options)) &&
      hSize === header.history_size,
    `index ${hIndex} of ${hSize}`,
  );
  step(STEPS.header, sameJson(get(doc, 'header'), headerJson(header)));

  let orderer;
  try {
    const certificate = base64ToBytes(field(doc, 'orderer_certificate'));
    const cas = await loadOrderingCas(options.trustedCaPem ?? field(doc, 'orderer_cas'), options);
    orderer = await validateOrdererCertificate(certificate, cas, header.timestamp_ms, options);
    result.ordererCas = cas;
    result.ca = orderer.ca;
    step(STEPS.certificate, true, `${orderer.name} of ${orderer.org}`);
  } catch (error) {
    step(STEPS.certificate, false, messageOf(error));
    return result;
  }
  let signature;
  try {
    signature = hexToBytes(field(doc, 'signature'));
  } catch (error) {
    step(STEPS.signature, false, messageOf(error));
    return result;
  }
  const verdict = await ed25519VerifyDetailed(orderer.publicKey, headerSigningBytes(headerBytes), signature, options);
  step(STEPS.signature, verdict.ok, `Ed25519 (${verdict.engine})`);
  return result;
}

/**
 * Read a transaction envelope (consortia/ledger/transaction.py) as far as its proposal: Envelope [kind, payload,
 * signature] → Transaction [proposal, ...] → Proposal [channel, contract, function, args, transient_hash, nonce,
 * creator, timestamp_ms, tx_id]. Returns {channel, contract, function, txId, computedTxId}, where computedTxId is
 * hex SHA-256(nonce ‖ creator), what a transaction id must be. Throws when it is not a transaction envelope.
 */
export async function envelopeTransaction(envelope, options = {}) {
  const e = new MsgpackReader(envelope);
  if (e.array() !== 3) throw new Error('envelope: expected [kind, payload, signature]');
  const kind = e.uint();
  const payload = e.bin();
  e.bin();
  e.end();
  if (kind !== 0) throw new Error(`envelope of kind ${kind} is not a transaction`);
  const t = new MsgpackReader(payload);
  if (t.array() !== 3) throw new Error('transaction: expected [proposal, response, endorsements]');
  const p = new MsgpackReader(t.bin());
  if (p.array() !== 9) throw new Error('proposal: expected 9 fields');
  const [channel, contract, fn] = [p.str(), p.str(), p.str()];
  for (let n = p.array(); n > 0; n--) p.str();
  p.bin(); // transient_hash
  const [nonce, creator] = [p.bin(), p.bin()];
  p.uint(); // timestamp_ms
  const txId = p.str();
  p.end();
  const computedTxId = bytesToHex(await sha256(concat(nonce, creator), options));
  return { channel, contract, function: fn, txId, computedTxId };
}

export const TRANSACTION_STEP = 'envelope is the transaction asked for (tx id = SHA-256(nonce ‖ creator))';

/**
 * Bind a verified proof to what the page asked for: the envelope must be transaction `expected.txId` (its
 * proposal says so, and the id is the hash of its nonce and creator), on the channel of the signed header (and
 * `expected.channel`, when given). check_proof() proves that *an* envelope is in the ledger; this says which.
 */
export async function checkTransaction(doc, header, expected, options = {}) {
  try {
    const tx = await envelopeTransaction(base64ToBytes(field(doc, 'envelope')), options);
    const want = typeof expected.txId === 'string' ? expected.txId.toLowerCase() : null;
    const problems = [];
    if (want === null) problems.push('no transaction id to check the envelope against');
    else if (tx.txId !== want) problems.push(`the envelope is transaction ${tx.txId}, not ${want}`);
    if (tx.computedTxId !== tx.txId) problems.push(`its tx id is not SHA-256(nonce ‖ creator) = ${tx.computedTxId}`);
    if (tx.channel !== header.channel) {
      problems.push(`its proposal is for channel ${tx.channel}, not ${header.channel}`);
    }
    if (expected.channel !== undefined && header.channel !== expected.channel) {
      problems.push(`the block is on channel ${header.channel}, not ${expected.channel}`);
    }
    const detail = problems.join('; ') || `${tx.txId} (${tx.contract}.${tx.function}) on channel ${tx.channel}`;
    return { name: TRANSACTION_STEP, ok: problems.length === 0, detail };
  } catch (error) {
    return { name: TRANSACTION_STEP, ok: false, detail: messageOf(error) };
  }
}

/** Verify a proof document → Promise<[{name, ok, detail}]> (see checkProof). */
export async function verifyProof(doc, options = {}) {
  return (await checkProof(doc, options)).steps;
}

/** Whether every step held. */
export function stepsHold(steps) {
  return Array.isArray(steps) && steps.length > 0 && steps.every((s) => s.ok);
}

/** The trust record of a verified header: what saveTrusted() keeps. */
export function trustRecord(header, headerHash) {
  return {
    number: header.number,
    history_size: header.history_size,
    history_root: bytesToHex(header.history_root),
    header_hash: headerHash,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Trust memory: the newest header verified per channel, and the ordering CAs pinned on first use.

const TRUSTED_KEY = (channel) => `consortia.verifier.trusted.${channel}`;
const PIN_KEY = (channel) => `consortia.verifier.ca-pin.${channel}`;
const HASH_HEX = /^[0-9a-f]{64}$/;

function storage() {
  try {
    return globalThis.localStorage ?? null; // absent, or throwing when storage is disabled
  } catch {
    return null;
  }
}

function isTrustRecord(r) {
  return (
    r !== null &&
    typeof r === 'object' &&
    Number.isSafeInteger(r.number) &&
    r.number >= 0 &&
    Number.isSafeInteger(r.history_size) &&
    r.history_size >= 0 &&
    HASH_HEX.test(r.history_root) &&
    HASH_HEX.test(r.header_hash)
  );
}

/** The trusted header of a channel: {number, history_size, history_root, header_hash}, or null. */
export function loadTrusted(channel) {
  try {
    const record = JSON.parse(storage()?.getItem(TRUSTED_KEY(channel)) ?? 'null');
    return isTrustRecord(record) ? record : null;
  } catch {
    return null;
  }
}

/** Remember a verified header of a channel as trusted. */
export function saveTrusted(channel, record) {
  if (!isTrustRecord(record)) throw new Error('not a trust record');
  const { number, history_size, history_root, header_hash } = record;
  storage()?.setItem(TRUSTED_KEY(channel), JSON.stringify({ number, history_size, history_root, header_hash }));
}

/** The SHA-256 fingerprints (hex) of the ordering CAs pinned for a channel, or null before first use. */
export function loadPinnedCas(channel) {
  try {
    const pins = JSON.parse(storage()?.getItem(PIN_KEY(channel)) ?? 'null');
    return Array.isArray(pins) && pins.length > 0 && pins.every((p) => HASH_HEX.test(p)) ? pins : null;
  } catch {
    return null;
  }
}

export function savePinnedCas(channel, fingerprints) {
  storage()?.setItem(PIN_KEY(channel), JSON.stringify([...new Set(fingerprints)].sort()));
}

export const PIN_STEP = 'ordering CA is the one pinned for this channel (trust on first use)';

/**
 * Trust on first use: the CA that issued the orderer certificate must be one pinned for the channel. Before first
 * use nothing is pinned; the caller pins the document's CAs (savePinnedCas) once the whole check has held.
 */
export function checkPinnedCa(channel, issuingCa) {
  const pins = loadPinnedCas(channel);
  const fingerprint = issuingCa.fingerprint;
  if (pins === null) {
    return { name: PIN_STEP, ok: true, detail: `first use: pinning ${issuingCa.org} CA ${fingerprint}` };
  }
  if (pins.includes(fingerprint)) return { name: PIN_STEP, ok: true, detail: `${issuingCa.org} CA ${fingerprint}` };
  const detail = `${issuingCa.org} CA is now ${fingerprint}; pinned: ${pins.join(', ')}`;
  return { name: PIN_STEP, ok: false, detail };
}

export const CONSISTENCY_STEPS = Object.freeze({
  readable: 'consistency document is readable',
  headers: 'headers are the ones expected (earlier one trusted)',
  signed: 'both headers signed by the orderer (cert chain)',
  consistent: 'consistency proof from the trusted size/root to the new size/root',
});

/**
 * Check a /consistency document against a trusted (earlier) header: its "from" header must be the trusted one
 * (and its "to" header options.newHeaderHash, when given), both headers must carry valid orderer signatures under
 * options.orderingCas (see loadOrderingCas), and the RFC 9162 consistency proof must lead from the trusted
 * history size/root to the newer one. Returns [{name, ok, detail}]; on success the caller saves the newer header.
 */
export async function verifyConsistencyWith(trusted, doc, options = {}) {
  const S = CONSISTENCY_STEPS;
  const steps = [];
  const step = (name, ok, detail = '') => {
    steps.push({ name, ok: Boolean(ok), detail: String(detail) });
    return Boolean(ok);
  };
  const signedHeaders = [];
  let path;
  try {
    if (!isTrustRecord(trusted)) throw new Error('no valid trusted header');
    for (const end of ['from', 'to']) {
      const part = field(doc, end);
      const bytes = base64ToBytes(field(part, 'header_bytes'));
      signedHeaders.push({
        end,
        bytes,
        header: decodeHeader(bytes),
        hash: bytesToHex(await sha256(bytes, options)),
        signature: hexToBytes(field(part, 'signature')),
        certificate: base64ToBytes(field(part, 'orderer_certificate')),
      });
    }
    path = field(field(doc, 'proof'), 'path').map(hexToBytes);
  } catch (error) {
    step(S.readable, false, error instanceof TypeError ? 'expected a list of hex strings' : messageOf(error));
    return steps;
  }
  step(S.readable, true);

  const [older, newer] = signedHeaders;
  const expected =
    older.hash === trusted.header_hash &&
    (options.newHeaderHash === undefined ? true : newer.hash === options.newHeaderHash) &&
    newer.header.channel === older.header.channel &&
    newer.header.number >= older.header.number;
  const describe = (h) => `block ${h.header.number} (${h.hash.slice(0, 16)}…)`;
  const headersDetail = `${describe(older)} → ${describe(newer)}`;
  if (!step(S.headers, expected, headersDetail)) return steps;

  try {
    const cas = await loadOrderingCas(options.orderingCas, options);
    const signers = [];
    for (const h of signedHeaders) {
      const orderer = await validateOrdererCertificate(h.certificate, cas, h.header.timestamp_ms, options);
      if (!(await ed25519Verify(orderer.publicKey, headerSigningBytes(h.bytes), h.signature, options))) {
        throw new Error(`the orderer signature over block ${h.header.number} does not verify`);
      }
      signers.push(`block ${h.header.number}: ${orderer.name} of ${orderer.org}`);
    }
    step(S.signed, true, signers.join('; '));
  } catch (error) {
    step(S.signed, false, messageOf(error));
    return steps;
  }

  step(
    S.consistent,
    await verifyConsistency(
      trusted.history_size,
      newer.header.history_size,
      path,
      hexToBytes(trusted.history_root),
      newer.header.history_root,
      options,
    ),
    `history size ${trusted.history_size} → ${newer.header.history_size}`,
  );
  return steps;
}
