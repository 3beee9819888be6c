// Live alerts for care staff: follows /api/health/alerts/stream (server-sent events) and adds each new alert to
// the top of the list. The server sends only alerts of patients whose consent covers the viewer, each with a
// `display` part already in the viewer's language (the alert's kind by name, the value, the time in Korean time
// with the zone named), so this script only places text: no codes, no ISO times reach the page. No inline
// script: the page's Content-Security-Policy forbids it, so the stream URL comes from a data- attribute.

const section = document.querySelector('[data-alert-stream]');
if (section && 'EventSource' in window) {
  const list = section.querySelector('#alert-list');
  const state = section.querySelector('#live-state');
  const source = new EventSource(section.dataset.alertStream);
  source.addEventListener('open', () => { if (state) state.dataset.connected = 'true'; });
  source.addEventListener('alert', (message) => {
    const alert = JSON.parse(message.data);
    if (list.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`)) return;
    list.querySelector('#no-alerts')?.remove();
    const item = document.createElement('li');
    item.className = `alert-item severity-${alert.severity} new`;
    item.dataset.alertId = alert.id;
    const detail = alert.detail || {};
    const display = alert.display || {};
    item.dataset.kind = detail.kind || '';
    const strong = document.createElement('strong');
    strong.textContent = display.title || section.dataset.newAlert || '';
    const link = document.createElement('a');
    link.href = `/health/patients/${encodeURIComponent(alert.patient)}`;
    link.textContent = alert.patient;
    link.setAttribute('translate', 'no');
    const when = document.createElement('span');
    when.className = 'small muted';
    when.textContent = display.at || '';
    item.append(strong, ' · ', link, display.value ? ` · ${display.value} · ` : ' · ', when);
    list.prepend(item);
  });
  source.addEventListener('error', () => { if (state) state.dataset.connected = 'false'; });
}
