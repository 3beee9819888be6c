// Proofs in plain words first: once the platform's verify widget has checked a record (it sets
// data-verify-result="ok" or "failed" on its container), the line above its technical steps says so in words.
// The words come from data- attributes the server wrote, because the page's Content-Security-Policy forbids
// inline script.

for (const container of document.querySelectorAll('[data-verify-proof]')) {
  const plain = container.querySelector('[data-verify-plain]');
  if (!plain) continue;
  const show = () => {
    const result = container.dataset.verifyResult;
    if (result === 'ok') {
      plain.textContent = plain.dataset.okText;
      plain.className = 'small verify-ok';
    } else if (result === 'failed') {
      plain.textContent = plain.dataset.failedText;
      plain.className = 'small verify-failed';
    }
  };
  new MutationObserver(show).observe(container, { attributes: true, attributeFilter: ['data-verify-result'] });
}
