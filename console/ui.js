// Small DOM helpers shared by the views.

// h('td', {class: 'x', onclick: f}, child, ...): children are nodes or text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const kSvg = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(kSvg, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function showAlert(message) {
  document.getElementById('alert').textContent = message ?? '';
}

let lastAnnounce = 0;
let pending = null;
// A polite message for screen readers, at most one every two seconds (the latest wins).
export function announce(message, { throttle = false } = {}) {
  const el = document.getElementById('announce');
  const now = Date.now();
  if (!throttle || now - lastAnnounce > 2000) {
    lastAnnounce = now;
    el.textContent = message;
    return;
  }
  if (pending) clearTimeout(pending);
  pending = setTimeout(() => {
    pending = null;
    lastAnnounce = Date.now();
    el.textContent = message;
  }, 2000 - (now - lastAnnounce));
}

// A sparkline of `values` (numbers, null for gaps) as inline SVG.
export function sparkline(values, { width = 120, height = 28, label, error = false } = {}) {
  const nums = values.filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(...nums, 0) || 1;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = [];
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return;
    points.push(`${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  });
  return s('svg', { class: `spark${error ? ' err' : ''}`, width, height, viewBox: `0 0 ${width} ${height}`,
                    role: 'img', 'aria-label': label ?? 'trend' },
           s('title', {}, label ?? ''), s('polyline', { points: points.join(' ') }));
}

export function formatNumber(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toFixed(digits);
}
