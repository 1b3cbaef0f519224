// The dashboard page's script, served as its own same-origin resource (no inline script,
// so the page's CSP can stay `default-src 'self'`). It elects one tab of the browser as the
// leader (Web Locks, or a heartbeat over BroadcastChannel without them), which holds the
// one EventSource and passes every snapshot to the other tabs: seven tabs on HTTP/1.1 use
// one connection of the six a browser allows per host. Plain ES5-style JavaScript: it runs
// as it is, with no build step.

/** @internal The page's script (leading indentation stripped when served). */
export const DASHBOARD_JS: string = `(function () {
  'use strict';
  var base = new URL('.', document.currentScript.src);
  var KEY = 'weir-dashboard:' + base.pathname;
  var body = document.body;
  var me = Math.random().toString(36).slice(2) + Date.now().toString(36);
  var snaps = [];
  var lastId = 0;
  var cap = 300;
  var interval = 1000;
  var lastSeen = Date.now();
  var role = 'none';
  var es = null;
  var retryTimer = 0;
  var backoff = 500;
  var bc = typeof BroadcastChannel === 'function' ? new BroadcastChannel(KEY) : null;

  function post(m) {
    if (bc) bc.postMessage(m);
  }

  function setStatus(s) {
    if (body.dataset.status === s) return;
    body.dataset.status = s;
    document.getElementById('status').textContent = s;
    if (role === 'leader') post({ t: 'status', s: s });
  }

  // Keeps each snapshot once, in id order; ids grow across server restarts too.
  function ingest(raw) {
    var s;
    try {
      s = JSON.parse(raw);
    } catch (e) {
      return false;
    }
    if (typeof s.id !== 'number' || s.id <= lastId) return false;
    lastId = s.id;
    cap = s.historySize || cap;
    interval = s.intervalMs || interval;
    snaps.push({ s: s, raw: raw });
    if (snaps.length > cap) snaps.splice(0, snaps.length - cap);
    lastSeen = Date.now();
    queueRender();
    return true;
  }

  // The leader holds the one EventSource of this browser and passes every snapshot on.
  function lead() {
    role = 'leader';
    body.dataset.role = role;
    post({ t: 'lead', from: me });
    connect();
  }

  function connect() {
    clearTimeout(retryTimer);
    var u = new URL('events', base);
    if (lastId) u.searchParams.set('lastEventId', String(lastId));
    es = new EventSource(u);
    es.addEventListener('snapshot', function (e) {
      if (ingest(e.data)) post({ t: 'snap', raw: e.data });
      backoff = 500;
      setStatus('live');
    });
    es.onerror = function () {
      setStatus('reconnecting');
      // CLOSED: the server answered with something other than a stream; retry ourselves.
      if (es && es.readyState === 2) {
        es.close();
        es = null;
        retryTimer = setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 8000);
      }
    };
  }

  function follow() {
    role = 'follower';
    body.dataset.role = role;
    if (es) es.close();
    es = null;
    clearTimeout(retryTimer);
  }

  // A new tab gives a leader a second to make itself heard before it claims the stream.
  var leaderSeen = Date.now() - 2000;
  if (bc) {
    bc.onmessage = function (ev) {
      var m = ev.data || {};
      if (m.t === 'snap' || m.t === 'history' || m.t === 'status' || m.t === 'lead') {
        leaderSeen = Date.now();
      }
      if (m.t === 'snap') {
        // Even a leader takes it: while two tabs both think they lead, neither loses one.
        ingest(m.raw);
        if (role !== 'leader') setStatus('live');
      } else if (m.t === 'status') {
        if (role !== 'leader') setStatus(m.s);
      } else if (m.t === 'hello') {
        if (role === 'leader') {
          post({ t: 'history', to: m.from, raws: snaps.map(function (x) { return x.raw; }), s: body.dataset.status });
        }
      } else if (m.t === 'history') {
        if (m.to === me) {
          for (var i = 0; i < m.raws.length; i++) ingest(m.raws[i]);
          setStatus(m.s);
        }
      } else if (m.t === 'lead') {
        if (role !== 'leader') post({ t: 'hello', from: me });
      } else if (m.t === 'beat') {
        // Without Web Locks: the lowest id among leaders that hear each other stays.
        if (role === 'leader' && m.from < me) follow();
        if (role !== 'leader') leaderSeen = Date.now();
      } else if (m.t === 'bye') {
        // The leader left: one follower, after a random pause, claims; its 'lead' stops the rest.
        if (role !== 'leader') leaderSeen = Date.now() - 3000 + Math.random() * 1500;
      }
    };
    post({ t: 'hello', from: me });
  }

  if (!bc) lead();
  else if (navigator.locks && navigator.locks.request) {
    body.dataset.election = 'locks';
    follow();
    // Held until the tab closes; the next tab waiting for the lock then leads.
    navigator.locks.request(KEY, function () {
      return new Promise(function () {
        lead();
      });
    });
  } else {
    body.dataset.election = 'heartbeat';
    follow();
    setInterval(function () {
      if (role === 'leader') post({ t: 'beat', from: me });
      else if (Date.now() - leaderSeen > 3000) lead();
    }, 500);
    addEventListener('pagehide', function () {
      if (role === 'leader') post({ t: 'bye', from: me });
    });
  }

  // A leader that died without a word, or a stream that stopped: show it.
  setInterval(function () {
    if (body.dataset.status === 'live' && Date.now() - lastSeen > 3 * interval + 1000) {
      setStatus('reconnecting');
    }
  }, 1000);

  var renderTimer = 0;
  function queueRender() {
    if (!renderTimer) renderTimer = setTimeout(render, 30);
  }

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (var i = 0; kids && i < kids.length; i++) if (kids[i]) e.appendChild(kids[i]);
    return e;
  }

  function n(v, d) {
    if (v === null || v === undefined) return '–';
    if (Number.isInteger(v)) return String(v);
    return v.toFixed(d === undefined ? (Math.abs(v) < 10 ? 2 : 1) : d);
  }

  function dur(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function chart(name, series, max) {
    var W = 300;
    var H = 48;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('data-chart', name);
    var top = max || 0;
    series.forEach(function (ser) {
      ser.v.forEach(function (v) {
        if (v > top) top = v;
      });
    });
    if (!(top > 0)) top = 1;
    // The x axis grows with the history until it spans the server's whole window.
    var len = 30;
    series.forEach(function (ser) {
      if (ser.v.length > len) len = ser.v.length;
    });
    len = Math.min(len, Math.max(2, cap));
    if (max) {
      var lim = document.createElementNS(SVG, 'polyline');
      lim.setAttribute('class', 'lim');
      var y = H - 2 - (max / top) * (H - 4);
      lim.setAttribute('points', '0,' + y + ' ' + W + ',' + y);
      svg.appendChild(lim);
    }
    series.forEach(function (ser, k) {
      var off = len - ser.v.length;
      var pts = ser.v.map(function (v, i) {
        return ((off + i) * W) / (len - 1) + ',' + (H - 2 - (v / top) * (H - 4)).toFixed(1);
      });
      var pl = document.createElementNS(SVG, 'polyline');
      pl.setAttribute('class', 's' + k);
      pl.setAttribute('points', pts.join(' '));
      svg.appendChild(pl);
    });
    return svg;
  }

  function legend(names, extra) {
    var p = el('div', { class: 'legend' });
    names.forEach(function (x, k) {
      p.appendChild(el('span', { class: 'k' + k, text: '— ' + x + '  ' }));
    });
    if (extra) p.appendChild(document.createTextNode(extra));
    return p;
  }

  function series(kind, name, field) {
    var out = [];
    for (var i = 0; i < snaps.length; i++) {
      var list = snaps[i].s[kind];
      for (var j = 0; j < list.length; j++) {
        if (list[j].name === name) {
          out.push(list[j][field] || 0);
          break;
        }
      }
    }
    return out;
  }

  function health(h) {
    if (!h) return [null, null];
    var badge = el('span', { class: 'lvl ' + h.level, 'data-field': 'health', text: h.level });
    var ul = null;
    if (h.reasons && h.reasons.length) {
      ul = el('ul', { class: 'reasons', 'data-field': 'reasons' });
      h.reasons.forEach(function (r) {
        ul.appendChild(el('li', { text: r }));
      });
    }
    return [badge, ul];
  }

  function stat(label, field, value) {
    return [el('dt', { text: label }), el('dd', { 'data-field': field, text: value })];
  }

  // Shows a section only when it has items, and replaces its content.
  function fill(id, items, head, row) {
    document.getElementById(id + '-section').hidden = items.length === 0;
    var kids = items.map(row);
    if (head) {
      kids.unshift(el('tr', {}, head.map(function (h) { return el('th', { text: h }); })));
    }
    var t = document.getElementById(id);
    t.replaceChildren.apply(t, kids);
  }

  function render() {
    renderTimer = 0;
    var last = snaps[snaps.length - 1];
    if (!last) return;
    var s = last.s;
    var span = dur(Math.min(snaps.length, cap) * interval);
    body.dataset.snapshot = String(s.id);
    document.getElementById('title').textContent = s.title;
    document.title = s.title + ' · weir dashboard';
    document.getElementById('updated').textContent =
      'updated ' + new Date(s.at).toLocaleTimeString() + ' · every ' + n(s.intervalMs / 1000) + ' s';

    fill('pools', s.pools, null, function (p) {
        var h = health(p.health);
        var dl = el('dl', {}, []
          .concat(stat('used', 'used', n(p.used)))
          .concat(stat('idle', 'idle', n(p.idle)))
          .concat(stat('pending', 'pending', n(p.pending)))
          .concat(stat('limit', 'limit', n(p.limit)))
          .concat(stat('wait p50', 'waitP50', n(p.waitP50Ms) + ' ms'))
          .concat(stat('wait p99', 'waitP99', n(p.waitP99Ms) + ' ms'))
          .concat(stat('timeouts/s', 'timeoutsPerSec', n(p.timeoutsPerSec)))
          .concat(stat('create err/s', 'createErrorsPerSec', n(p.createErrorsPerSec))));
        return el('article', { class: 'card', 'data-pool': p.name }, [
          el('h3', {}, [el('span', { text: p.name }), el('small', { text: p.kind + ' · ' + p.state }), h[0]]),
          h[1],
          dl,
          chart('used', [{ v: series('pools', p.name, 'used') }, { v: series('pools', p.name, 'pending') }], p.limit),
          legend(['used', 'pending'], '(limit dashed) · last ' + span),
          chart('wait', [{ v: series('pools', p.name, 'waitP99Ms') }, { v: series('pools', p.name, 'timeoutsPerSec') }, { v: series('pools', p.name, 'createErrorsPerSec') }]),
          legend(['wait p99 ms', 'timeouts/s', 'create errors/s']),
        ]);
    });

    fill('breakers', s.breakers, ['breaker', 'state', 'since last change', 'probe in', 'health'], function (b) {
        return el('tr', { 'data-breaker': b.name }, [
          el('td', { text: b.name }),
          el('td', {}, [el('span', { class: 'st ' + b.state, 'data-field': 'state', text: b.state })]),
          el('td', { 'data-field': 'since', text: (b.changedAt === null ? '≥ ' : '') + dur(b.sinceMs) }),
          el('td', { text: b.retryInMs === null ? '–' : dur(b.retryInMs) }),
          el('td', {}, health(b.health)),
        ]);
    });

    fill('channels', s.channels, ['channel', 'fill', 'length / capacity', 'blocked senders', 'blocked receivers', 'health'], function (c) {
        return el('tr', { 'data-channel': c.name }, [
          el('td', { text: c.name + (c.closed ? ' (closed)' : '') }),
          el('td', {}, [el('meter', { min: '0', max: '1', high: '0.9', value: String(c.fill), 'data-field': 'fill' })]),
          el('td', { 'data-field': 'length', text: c.length + ' / ' + c.capacity }),
          el('td', { text: n(c.blockedSenders) }),
          el('td', { text: n(c.blockedReceivers) }),
          el('td', {}, health(c.health)),
        ]);
    });

    fill('limiters', s.limiters, ['name', 'kind', 'available', 'waiting', 'health'], function (l) {
        return el('tr', { 'data-limiter': l.name }, [
          el('td', { text: l.name }),
          el('td', { text: l.kind }),
          el('td', { 'data-field': 'available', text: n(l.available, 1) + (l.limit === null ? '' : ' / ' + l.limit) }),
          el('td', { 'data-field': 'waiting', text: n(l.waiting) }),
          el('td', {}, health(l.health)),
        ]);
    });

    fill('errors', s.errors, null, function (e) {
      return el('li', { text: e.source + ': ' + e.message });
    });
  }
})();
`.replace(/^[ \t]+/gm, '');
