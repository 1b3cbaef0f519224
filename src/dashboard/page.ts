// The dashboard's page and its stylesheet. The page holds no inline script or style, so
// that a Content-Security-Policy of `default-src 'self'` covers it whole; its script and
// stylesheet are served beside it (client.ts holds the script).

/** @internal The page, with its assets and stream under `path`. */
export function pageHtml(path: string, title: string): string {
  const t = escapeHtml(title);
  const p = escapeHtml(path);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t} · weir dashboard</title>
<link rel="icon" href="${p}favicon.ico">
<link rel="stylesheet" href="${p}dashboard.css">
<script src="${p}dashboard.js" defer></script>
</head>
<body data-status="connecting" data-role="none">
<header>
<h1 id="title">${t}</h1>
<span id="status" class="badge">connecting</span>
<span id="updated" class="muted"></span>
</header>
<main>
<section id="pools-section" hidden><h2>Pools</h2><div id="pools" class="cards"></div></section>
<section id="breakers-section" hidden><h2>Circuit breakers</h2><table id="breakers"></table></section>
<section id="channels-section" hidden><h2>Channels</h2><table id="channels"></table></section>
<section id="limiters-section" hidden><h2>Rate limiters and semaphores</h2><table id="limiters"></table></section>
<section id="errors-section" hidden><h2>Sources that failed to read</h2><ul id="errors"></ul></section>
</main>
<noscript>The dashboard needs JavaScript to show live figures.</noscript>
</body>
</html>
`;
}

/** @internal The page's stylesheet. */
export const DASHBOARD_CSS = `:root{--bg:#0f1419;--fg:#e6e1cf;--mut:#8a919a;--card:#171c24;--line:#2a313c;
--ok:#7fd962;--warn:#ffb454;--bad:#f26d78;--a:#59c2ff;--b:#d2a6ff;color-scheme:dark}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;gap:12px;align-items:baseline;padding:12px 20px;border-bottom:1px solid var(--line)}
h1{font-size:18px;margin:0}h2{font-size:14px;text-transform:uppercase;letter-spacing:.06em;color:var(--mut);margin:18px 0 8px}
h3{font-size:15px;margin:0 0 6px;display:flex;gap:8px;align-items:baseline}
main{padding:0 20px 20px}
.muted,small{color:var(--mut)}
.badge{border-radius:10px;padding:1px 10px;font-size:12px;background:var(--line)}
body[data-status=live] #status{background:#1e3a1a;color:var(--ok)}
body[data-status=reconnecting] #status{background:#4a1d22;color:var(--bad);animation:blink 1s infinite}
@keyframes blink{50%{opacity:.5}}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px}
dl{display:grid;grid-template-columns:repeat(4,1fr);gap:4px 8px;margin:6px 0}
dt{font-size:11px;color:var(--mut)}dd{margin:0;font-variant-numeric:tabular-nums;font-size:15px}
.lvl,.st{font-size:12px;border-radius:4px;padding:0 6px;background:var(--line)}
.ok,.closed{color:var(--ok)}.degraded,.half-open{color:var(--warn)}.failing,.open{color:var(--bad)}
ul.reasons{margin:0 0 4px;padding-left:18px;color:var(--warn);font-size:12px}
svg.chart{display:block;width:100%;height:48px;background:#12161d;border-radius:4px;margin-top:4px}
svg.chart polyline{fill:none;stroke-width:1.5;vector-effect:non-scaling-stroke}
.s0{stroke:var(--a)}.s1{stroke:var(--b)}.s2{stroke:var(--bad)}.lim{stroke:var(--line);stroke-dasharray:3 3}
.legend{font-size:11px;color:var(--mut)}.k0{color:var(--a)}.k1{color:var(--b)}.k2{color:var(--bad)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
td,th{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;font-variant-numeric:tabular-nums}
th{font-size:11px;color:var(--mut);font-weight:normal}
meter{width:140px}
`;

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
