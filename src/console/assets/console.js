// The console's script (docs/console.md "Verification in the browser"). Pages work without it;
// it adds three things: local time on request, the pinned log key, and the verification of an
// entry computed here, in the browser, from the leaf bytes, the inclusion proof and the signed
// checkpoint, against the key the person pinned (never the key the server sends at the time).
'use strict';

(function () {
  const PINNED_KEY = 'audit-console.pinned-log-key';
  const LOCAL_TIME = 'audit-console.local-time';

  // ---- bytes -------------------------------------------------------------------------------
  function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }

  // ---- RFC 6962 / RFC 9162 -----------------------------------------------------------------
  const leafHashOf = (leaf) => sha256(concat(new Uint8Array([0]), leaf));
  const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

  /** The root an inclusion proof leads to (RFC 9162 2.1.3.2), or null when the proof cannot hold. */
  async function rootFromInclusion(index, size, leafHash, proof) {
    if (!(index < size)) return null;
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // ---- signed notes (C2SP signed-note, Ed25519) --------------------------------------------
  /** `<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte key)>`, or null. */
  function parseVerifierKey(text) {
    // Only the first two `+` separate: the base64 key after them may contain `+` itself.
    const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim());
    if (match === null) return null;
    const [, name, id, encoded] = match;
    let key;
    try {
      key = fromBase64(encoded);
    } catch {
      return null;
    }
    if (key.length !== 33 || key[0] !== 1) return null;
    return { name, id, publicKey: key.slice(1) };
  }

  /** Whether `note` carries a valid signature by `key`; with the checkpoint's lines. */
  async function verifyNote(note, key) {
    const split = note.indexOf('\n\n');
    if (split < 0) return { ok: false, why: 'the checkpoint is not a signed note' };
    const body = note.slice(0, split + 1);
    const lines = note
      .slice(split + 2)
      .split('\n')
      .filter((line) => line !== '');
    const publicKey = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
    for (const line of lines) {
      const match = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!match || match[1] !== key.name) continue;
      const signature = fromBase64(match[2]);
      if (signature.length !== 68 || hex(signature.slice(0, 4)) !== key.id) continue;
      const valid = await crypto.subtle.verify(
        { name: 'Ed25519' },
        publicKey,
        signature.slice(4),
        new TextEncoder().encode(body),
      );
      if (valid) return { ok: true, lines: body.split('\n') };
    }
    return { ok: false, why: `no valid signature by the pinned key ${key.name}` };
  }

  async function fingerprint(keyText) {
    const digest = hex(await sha256(new TextEncoder().encode(keyText.trim())));
    return digest.match(/.{4}/g).slice(0, 8).join(' ');
  }

  // ---- verification of one entry -----------------------------------------------------------
  async function verifyEvidence(evidence, keyText) {
    const key = parseVerifierKey(keyText);
    if (key === null) return { ok: false, why: 'the pinned key is not a valid verifier key' };
    if (typeof evidence.leaf !== 'string' || !evidence.inclusion)
      return { ok: false, why: 'the entry came without its leaf or proof' };
    const leaf = fromBase64(evidence.leaf);
    const leafHash = await leafHashOf(leaf);
    const checkpoint = await verifyNote(evidence.inclusion.checkpoint, key);
    if (!checkpoint.ok) return checkpoint;
    const [origin, sizeText, rootText] = checkpoint.lines;
    if (!origin.endsWith(`/${evidence.log}`)) return { ok: false, why: `the checkpoint is of another log (${origin})` };
    const size = Number(sizeText);
    if (size !== evidence.inclusion.size)
      return { ok: false, why: 'the proof is for another tree size than the checkpoint' };
    const root = await rootFromInclusion(evidence.index, size, leafHash, evidence.inclusion.proof.map(fromBase64));
    if (root === null || !equal(root, fromBase64(rootText)))
      return { ok: false, why: 'the leaf bytes are not in the signed tree: the entry was changed after it was logged' };
    return {
      ok: true,
      why: `leaf ${evidence.index} of ${origin}, in the checkpoint of size ${size} signed by ${key.name}`,
    };
  }

  function showVerification(status, result) {
    status.textContent = result.ok ? `Verified: ${result.why}.` : `Verification FAILED: ${result.why}.`;
    status.className = result.ok ? 'ok' : 'failed';
    status.dataset.result = result.ok ? 'verified' : 'failed';
  }

  async function pinPrompt(container, keyText) {
    container.hidden = false;
    container.textContent = '';
    const intro = document.createElement('p');
    intro.textContent =
      'No log key is pinned in this browser. The server names this key; pin it only if its fingerprint matches the one your organisation publishes:';
    const key = document.createElement('pre');
    key.textContent = keyText;
    const print = document.createElement('p');
    print.textContent = `Fingerprint (SHA-256): ${await fingerprint(keyText)}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.id = 'pin-key';
    button.textContent = 'Pin this key and verify';
    container.append(intro, key, print, button);
    return new Promise((resolve) => {
      button.addEventListener('click', () => {
        localStorage.setItem(PINNED_KEY, keyText);
        container.hidden = true;
        resolve();
      });
    });
  }

  async function verifyPage(section) {
    const status = document.getElementById('verify-status');
    status.textContent = 'Checking in your browser…';
    let evidence;
    try {
      const answer = await fetch(section.dataset.evidence, { credentials: 'same-origin' });
      evidence = await answer.json();
      if (!answer.ok) throw new Error(evidence.message || `HTTP ${answer.status}`);
    } catch (e) {
      showVerification(status, { ok: false, why: `the evidence could not be fetched (${e.message})` });
      return;
    }
    let pinned = localStorage.getItem(PINNED_KEY);
    if (pinned === null) {
      if (!evidence.serverKey) {
        showVerification(status, { ok: false, why: 'no key is pinned and the server named none' });
        return;
      }
      status.textContent = 'Waiting for you to pin the log key.';
      await pinPrompt(document.getElementById('verify-pin'), evidence.serverKey);
      pinned = localStorage.getItem(PINNED_KEY);
    }
    try {
      showVerification(status, await verifyEvidence(evidence, pinned));
    } catch (e) {
      showVerification(status, { ok: false, why: e.message });
    }
  }

  // ---- settings ----------------------------------------------------------------------------
  async function settingsPage() {
    const text = document.getElementById('pinned-key-text');
    const forget = document.getElementById('forget-key');
    const pinned = localStorage.getItem(PINNED_KEY);
    if (pinned === null) return;
    text.textContent = `${pinned} — fingerprint ${await fingerprint(pinned)}`;
    forget.hidden = false;
    forget.addEventListener('click', () => {
      localStorage.removeItem(PINNED_KEY);
      text.textContent = 'No key is pinned.';
      forget.hidden = true;
    });
  }

  // ---- local time --------------------------------------------------------------------------
  function showTimes(root) {
    const local = localStorage.getItem(LOCAL_TIME) === 'yes';
    for (const element of root.querySelectorAll('time[datetime]')) {
      const value = element.getAttribute('datetime');
      const date = new Date(value);
      element.textContent = local && !Number.isNaN(date.getTime()) ? date.toLocaleString() : value;
      element.title = value;
    }
    for (const button of document.querySelectorAll('.time-toggle')) {
      button.setAttribute('aria-pressed', local ? 'true' : 'false');
      button.textContent = local ? 'Show UTC' : 'Show local time';
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const button of document.querySelectorAll('.time-toggle')) {
      button.addEventListener('click', () => {
        localStorage.setItem(LOCAL_TIME, localStorage.getItem(LOCAL_TIME) === 'yes' ? 'no' : 'yes');
        showTimes(document);
      });
    }
    showTimes(document);
    document.body.addEventListener('htmx:afterSwap', () => showTimes(document));
    const section = document.getElementById('verification');
    if (section) void verifyPage(section);
    if (document.getElementById('pinned-key')) void settingsPage();
  });
})();
