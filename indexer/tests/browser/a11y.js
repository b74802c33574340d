// An automated accessibility check run in the page by the browser test: the checks of WCAG 2.1 AA
// that a script can decide. Returns a list of problems (empty when the page passes).
return (() => {
  const problems = [];
  const visible = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e); return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const name = (e) => (e.getAttribute('aria-label') || e.textContent || e.getAttribute('title') || e.getAttribute('alt') || '').trim();
  const desc = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' "' + (e.textContent || '').trim().slice(0, 30) + '"';
  // 3.1.1 language of the page.
  if (!/^(en|ru)$/.test(document.documentElement.lang)) problems.push('html lang is ' + document.documentElement.lang);
  if (!document.title.trim()) problems.push('no title');
  // 1.3.1 / 4.1.2: every form control has a label, every button and link a name.
  for (const e of document.querySelectorAll('input, select, textarea')) {
    if (e.type === 'hidden') continue;
    const labelled = (e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]')) || e.closest('label') || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
    if (!labelled) problems.push('control without a label: ' + desc(e));
  }
  for (const e of document.querySelectorAll('button, a[href]')) if (visible(e) && !name(e)) problems.push('no accessible name: ' + desc(e));
  for (const e of document.querySelectorAll('img')) if (!e.hasAttribute('alt')) problems.push('img without alt');
  for (const e of document.querySelectorAll('svg[role=img]')) if (!e.getAttribute('aria-label')) problems.push('chart without a label');
  // 1.3.1: one h1, headings do not skip levels.
  const hs = [...document.querySelectorAll('h1, h2, h3, h4')].map((h) => Number(h.tagName[1]));
  if (hs.filter((h) => h === 1).length !== 1) problems.push('expected one h1, got ' + hs.filter((h) => h === 1).length);
  hs.reduce((prev, h) => { if (h > prev + 1) problems.push('heading level skips from ' + prev + ' to ' + h); return h; }, 1);
  // 4.1.1: ids unique.
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  for (const id of new Set(ids)) if (ids.filter((x) => x === id).length > 1) problems.push('duplicate id ' + id);
  // 2.1.1: interactive things are keyboard reachable (no positive tabindex, no click handlers on divs).
  for (const e of document.querySelectorAll('[tabindex]')) if (Number(e.getAttribute('tabindex')) > 0) problems.push('positive tabindex: ' + desc(e));
  // 1.4.3: contrast of text against its (opaque) background, 4.5:1 (3:1 for large text).
  const rgb = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (e) => { for (let n = e; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const seen = new Set();
  for (const e of document.body.querySelectorAll('*')) {
    if (!visible(e) || e.closest('svg')) continue;
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(e);
    const fg = rgb(s.color); if (!fg) continue;
    let opacity = 1; for (let n = e; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
    if (e.closest(':disabled')) continue; // WCAG exempts inactive controls
    const b = bg(e);
    const L1 = lum(fg), L2 = lum(b);
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const size = parseFloat(s.fontSize); const bold = Number(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio * opacity < need) { const k = desc(e) + ' ' + ratio.toFixed(2); if (!seen.has(k)) { seen.add(k); problems.push('contrast ' + k); } }
  }
  return problems;
})();
