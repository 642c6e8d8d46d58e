/* thinktune studio: the web UI (plain JavaScript, no build step, no network beyond the studio itself).
 *
 * One page, hash routes: #/new, #/jobs, #/jobs/ID, #/datasets, #/datasets/ID, #/compare, #/playground,
 * #/flywheel.
 * Every call goes to the studio's REST API (api/...) or its OpenAI-compatible endpoints (serve/v1/...),
 * with the token from the URL fragment (#token=...) kept in sessionStorage and sent as X-Thinktune-Token.
 * Live job updates poll GET api/jobs/ID every second (EventSource cannot send the token header).
 */
'use strict';

(() => {
  const TOKEN_KEY = 'thinktune.token';
  const TERMINAL = ['succeeded', 'failed', 'cancelled'];
  const ACTIVE = ['queued', 'running', 'cancelling', 'interrupted'];
  const JOB_TYPES = {
    reasoning: {
      label: 'Reasoning',
      blurb: 'Train on <think>steps</think> then <answer>: the model writes its working before it answers. ' +
        'Needs step-by-step reasoning in every row.',
    },
    non_reasoning: {
      label: 'Non-Reasoning',
      blurb: 'Train on the answer alone: short, fast, direct replies. Any question/answer data will do.',
    },
  };
  // Short help texts of the SFT config's fields (thinktune.recipes.config.SFTJobConfig).
  const HELP = {
    max_steps: 'Optimizer steps to train for (max_steps). Set it, or train for a number of epochs instead.',
    epochs: 'Passes over the training rows (epochs), used when max_steps is -1.',
    batch_size: 'Rows per device per optimizer step (batch_size).',
    learning_rate: 'Peak learning rate (learning_rate): LoRA wants about 1e-4 to 1e-3, a full fine-tune 1e-5 to 1e-4.',
    lora: 'LoRA adapters (lora.enabled: true) train a few small matrices and need far less memory; ' +
      'off means a full fine-tune of every weight.',
    limit: 'Use only the first N rows of the file, before the train/validation split (limit). Empty: all rows.',
    name: 'A name for the jobs list (optional).',
    snapshot: 'A snapshot is a named, fixed train/validation split; without one the job splits the file itself ' +
      '(val_fraction 5%, seed 0).',
  };

  // ------------------------------------------------------------------------------------------ DOM helpers
  const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'open', 'hidden', 'multiple', 'readOnly']);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    add(el, children);
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
    add(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function add(el, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren();
    return add(el, children);
  }

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  /** A labelled form field: label, control, help text (the help is the control's description). */
  function field(label, control, help, extra) {
    if (!control.id) control.id = nextId('f');
    const helpEl = help ? h('small', { class: 'help', id: control.id + '-help' }, help) : null;
    if (helpEl) control.setAttribute('aria-describedby', helpEl.id);
    return h('div', { class: 'field' + (extra ? ' ' + extra : '') }, h('label', { for: control.id }, label), control, helpEl);
  }

  // -------------------------------------------------------------------------------------------- formatting
  function fmtNum(v) {
    if (v === null || v === undefined || v === '') return '–';
    if (typeof v !== 'number') return String(v);
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  function fmtDur(sec) {
    if (sec === null || sec === undefined || !Number.isFinite(sec)) return '–';
    if (sec < 10) return `${sec.toFixed(1)} s`;
    const t = Math.round(sec);
    if (t < 60) return `${t} s`;
    const m = Math.floor(t / 60);
    if (m < 60) return `${m} min ${t % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : '–');

  function fmtAgo(t) {
    if (!t) return '–';
    const d = Date.now() / 1000 - t;
    if (d < 60) return 'just now';
    if (d < 3600) return `${Math.floor(d / 60)} min ago`;
    if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
    return new Date(t * 1000).toLocaleDateString();
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '–';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const fmtGb = (g) => (g === null || g === undefined ? '–' : g < 0.1 ? '< 0.1 GB' : `${g} GB`);
  const plural = (n, one, many) => `${fmtNum(n)} ${n === 1 ? one : (many || one + 's')}`;
  const typeLabel = (job) => (JOB_TYPES[job] ? JOB_TYPES[job].label : job || '–');

  // ------------------------------------------------------------------------------------------------ API
  class ApiError extends Error {
    constructor(status, message, param) {
      super(message);
      this.status = status;
      this.param = param;
    }
  }

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }

  function authHeaders(extra) {
    const out = Object.assign({}, extra || {});
    const t = token();
    if (t) out['X-Thinktune-Token'] = t;
    return out;
  }

  /** The token from the URL fragment (#token=T, or #/route&token=T): kept for the session, then dropped
   *  from the address bar so it does not end up in screenshots or the history. */
  function captureToken() {
    const m = location.hash.match(/[#&?]token=([^&]*)/);
    if (!m) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    } catch (e) { /* storage off: the calls go without a token and get 401 */ }
    let rest = location.hash.replace(/[#&?]token=[^&]*/, '').replace(/^[#&?]+/, '');
    if (!rest.startsWith('/')) rest = '/new';
    history.replaceState(null, '', location.pathname + location.search + '#' + rest);
  }

  async function errorOf(r) {
    let message = `${r.status} ${r.statusText}`;
    let param = null;
    try {
      const body = await r.json();
      if (body && body.error) {
        message = body.error.message || message;
        param = body.error.param;
      }
    } catch (e) { /* not JSON */ }
    if (r.status === 401) askForToken(message);
    return new ApiError(r.status, message, param);
  }

  async function call(method, path, opts) {
    const o = opts || {};
    const init = { method, headers: authHeaders(o.headers) };
    if (o.json !== undefined) {
      init.body = JSON.stringify(o.json);
      init.headers['Content-Type'] = 'application/json';
    } else if (o.body !== undefined) {
      init.body = o.body;
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `the studio did not answer (${e.message}); is it still running?`);
    }
    if (!r.ok) throw await errorOf(r);
    return o.text ? r.text() : r.json();
  }

  const api = {
    get: (path, opts) => call('GET', path, opts),
    post: (path, json) => call('POST', path, json === undefined ? {} : { json }),
    del: (path) => call('DELETE', path),
    upload: (file, name) => {
      const q = new URLSearchParams({ filename: file.name || 'data.jsonl' });
      if (name) q.set('name', name);
      return call('POST', `api/datasets?${q}`, { body: file, headers: { 'Content-Type': 'application/octet-stream' } });
    },
  };

  // ------------------------------------------------------------------------------------ banner, token
  const banner = () => document.getElementById('banner');

  function showError(e) {
    const b = banner();
    const message = e instanceof Error ? e.message : String(e);
    fill(b, h('span', {}, message), h('button', { class: 'link', type: 'button', onclick: hideBanner }, 'dismiss'));
    b.className = 'banner error';
    b.hidden = false;
  }

  function hideBanner() {
    banner().hidden = true;
  }

  function askForToken(message) {
    const b = banner();
    if (!b.hidden && b.dataset.kind === 'token') return;
    const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', 'data-testid': 'token-input' });
    const save = () => {
      try {
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      } catch (e) { /* ignore */ }
      b.hidden = true;
      b.dataset.kind = '';
      updateAuth();
      route();
    };
    fill(b, h('span', {}, `${message}. Open the link \`thinktune studio\` printed (it ends in #token=…), or paste the token: `),
      h('label', { for: 'token-input', class: 'sr-only' }, 'Studio token'), input,
      h('button', { type: 'button', onclick: save }, 'Use token'));
    b.className = 'banner error';
    b.dataset.kind = 'token';
    b.hidden = false;
  }

  function updateAuth() {
    const el = document.getElementById('auth-state');
    if (el) el.textContent = token() ? 'token set' : '';
  }

  // ----------------------------------------------------------------------------------------- routing
  let routeSeq = 0;
  let cleanups = [];

  /** A page's context: `alive()` turns false when the user moves to another page. */
  function context() {
    const seq = ++routeSeq;
    return { alive: () => seq === routeSeq };
  }

  /** Run `fn` now and every `ms` while the page is open and `fn` does not return false. */
  function every(ctx, ms, fn) {
    let timer = null;
    let stopped = false;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
    };
    const tick = async () => {
      if (stopped || !ctx.alive()) return;
      let again = true;
      try {
        again = (await fn()) !== false;
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) again = false;
        else console.warn(e);
      }
      if (again && !stopped && ctx.alive()) timer = setTimeout(tick, ms);
    };
    cleanups.push(stop);
    tick();
    return stop;
  }

  const ROUTES = [
    [/^\/new$/, pageNewJob, 'new'],
    [/^\/jobs$/, pageJobs, 'jobs'],
    [/^\/jobs\/([\w.-]+)$/, pageJob, 'jobs'],
    [/^\/datasets$/, pageDatasets, 'datasets'],
    [/^\/datasets\/([\w.-]+)$/, pageDatasets, 'datasets'],
    [/^\/compare$/, pageCompare, 'compare'],
    [/^\/playground$/, pagePlayground, 'playground'],
    [/^\/flywheel$/, pageFlywheel, 'flywheel'],
  ];

  function route() {
    captureToken();
    updateAuth();
    for (const stop of cleanups) stop();
    cleanups = [];
    const raw = (location.hash || '#/new').slice(1);
    const [path, query] = raw.split('?');
    for (const [re, page, nav] of ROUTES) {
      const m = path.match(re);
      if (!m) continue;
      const main = document.getElementById('main');
      const view = h('div', { class: 'view', 'data-page': nav });
      main.replaceChildren(view);
      for (const a of document.querySelectorAll('nav a')) {
        if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      hideBannerUnlessToken();
      const ctx = context();
      Promise.resolve(page(view, ctx, new URLSearchParams(query || ''), ...m.slice(1))).catch((e) => {
        if (!ctx.alive()) return;
        add(view, h('p', { class: 'error-text', 'data-testid': 'page-error' }, e.message));
        if (!(e instanceof ApiError && e.status === 401)) showError(e);
      });
      window.scrollTo(0, 0);
      return;
    }
    location.replace('#/new');
  }

  function hideBannerUnlessToken() {
    const b = banner();
    if (b.dataset.kind !== 'token') b.hidden = true;
  }

  // ------------------------------------------------------------------------------------ shared widgets
  function badge(status) {
    return h('span', { class: `badge status-${status}`, 'data-testid': 'job-status' }, status);
  }

  function progressPct(job) {
    const p = job.progress || {};
    if (job.status === 'succeeded') return 100;
    if (p.total) return Math.max(0, Math.min(100, Math.round((100 * (p.done || 0)) / p.total)));
    return 0;
  }

  function progressBar(job, testid) {
    const v = progressPct(job);
    return h('div', {
      class: `progress status-${job.status}`, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
      'aria-valuenow': v, 'aria-label': `progress of ${job.name || job.id}`, 'data-testid': testid || 'progress',
    }, h('div', { class: 'fill', style: { width: `${v}%` } }));
  }

  function progressText(job) {
    const p = job.progress || {};
    const parts = [];
    if (p.total) parts.push(`${fmtNum(p.done || 0)} / ${fmtNum(p.total)} ${p.unit || 'step'}s`);
    parts.push(`${progressPct(job)}%`);
    if (job.status === 'running' && p.eta_s !== undefined && p.eta_s !== null) parts.push(`ETA ${fmtDur(p.eta_s)}`);
    if (job.status === 'queued') parts.push('waiting for the worker');
    if (job.status === 'running' && !p.total) parts.push('starting (loading the model and data)');
    return parts.join(' · ');
  }

  function datasetLabel(d) {
    const ok = d.ok === true ? '✓' : d.ok === false ? '✗' : '?';
    return `${ok} ${d.name} — ${fmtNum(d.rows)} rows (${d.filename})`;
  }

  /** Nice round axis ticks between lo and hi. */
  function ticks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const step0 = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const err = step0 / mag;
    const step = (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1) * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  const PALETTE = ['#2563eb', '#c2410c', '#059669', '#7c3aed', '#be185d', '#0891b2'];

  /** An inline SVG line chart: series [{name, points: [[x, y]...], dashed}]. */
  function lineChart({ title, series, testid, xLabel, wide }) {
    const W = wide ? 1040 : 560, H = wide ? 250 : 230, m = { l: 54, r: 14, t: 12, b: 36 };
    const fig = h('figure', { class: 'chart', 'data-testid': testid });
    const pts = series.flatMap((sr) => sr.points);
    fig.dataset.points = String(pts.length);
    const legend = h('figcaption', {}, h('strong', {}, title));
    series.forEach((sr, i) => {
      if (sr.points.length) {
        const last = sr.points[sr.points.length - 1][1];
        add(legend, h('span', { class: 'key' }, h('i', { style: { background: PALETTE[i % PALETTE.length] } }),
          `${sr.name} ${fmtNum(last)}`));
      }
    });
    fig.append(legend);
    if (!pts.length) {
      fig.append(h('p', { class: 'muted chart-empty' }, 'no points yet'));
      return fig;
    }
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { const d = Math.abs(y0) * 0.05 || 0.5; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.06;
    y0 -= pad; y1 += pad;
    const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
    const last = series.map((sr) => sr.points.length ? `${sr.name} ${fmtNum(sr.points[sr.points.length - 1][1])}` : '')
      .filter(Boolean).join(', ');
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title} by ${xLabel || 'step'}: ${last}`,
      preserveAspectRatio: 'xMidYMid meet' });
    for (const t of ticks(y0, y1, 4)) {
      svg.append(s('line', { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), class: 'grid' }),
        s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum(t)));
    }
    const xTicks = ticks(x0, x1, Math.min(wide ? 10 : 6, Math.max(1, Math.round(x1 - x0))));
    for (const t of xTicks.filter((v) => Number.isInteger(v) && v >= 0)) {
      svg.append(s('line', { x1: X(t), x2: X(t), y1: H - m.b, y2: H - m.b + 4, class: 'axis' }),
        s('text', { x: X(t), y: H - m.b + 17, 'text-anchor': 'middle', class: 'tick' }, fmtNum(t)));
    }
    svg.append(s('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis' }),
      s('text', { x: (m.l + W - m.r) / 2, y: H - 3, 'text-anchor': 'middle', class: 'label' }, xLabel || 'step'));
    series.forEach((sr, i) => {
      const color = PALETTE[i % PALETTE.length];
      const p = sr.points.slice().sort((a, b) => a[0] - b[0]);
      if (p.length > 1) {
        svg.append(s('polyline', { points: p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' '),
          fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': sr.dashed ? '5 4' : null,
          'stroke-linejoin': 'round', class: 'series' }));
      }
      if (p.length <= 60) {
        for (const [x, y] of p) {
          svg.append(s('circle', { cx: X(x).toFixed(1), cy: Y(y).toFixed(1), r: 3, fill: color },
            s('title', {}, `${sr.name} at ${xLabel || 'step'} ${fmtNum(x)}: ${fmtNum(y)}`)));
        }
      }
    });
    fig.append(svg);
    return fig;
  }

  /** Charts for a job's metrics rows: loss (and eval loss), and GRPO's reward, accuracy and format rate. */
  function metricCharts(rows) {
    const groupKey = (r) => r.variant || r.job || '';
    const groups = [...new Set(rows.map(groupKey))];
    const many = groups.filter(Boolean).length > 1;
    const seriesOf = (key, name, dashed) => groups.map((g) => ({
      name: many ? `${g} ${name}` : name, dashed,
      points: rows.filter((r) => groupKey(r) === g && typeof r[key] === 'number' && typeof r.step === 'number')
        .map((r) => [r.step, r[key]]),
    })).filter((sr) => sr.points.length);
    const specs = [['Loss', [...seriesOf('loss', 'train loss'), ...seriesOf('eval_loss', 'eval loss', true)], 'chart-loss']];
    for (const [key, title] of [['reward', 'Reward'], ['accuracy', 'Accuracy'], ['format_rate', 'Format rate']]) {
      const sr = seriesOf(key, key.replace('_', ' '));
      if (sr.length) specs.push([title, sr, `chart-${key}`]);
    }
    if (specs.length === 1) {  // SFT: the share of target tokens predicted right, next to the loss
      const acc = [...seriesOf('mean_token_accuracy', 'train'), ...seriesOf('eval_mean_token_accuracy', 'eval', true)];
      if (acc.length) specs.push(['Token accuracy', acc, 'chart-token-accuracy']);
    }
    return specs.map(([title, series, testid]) => lineChart({ title, series, testid, wide: specs.length === 1 }));
  }

  function section(num, title, ...children) {
    return h('section', { class: 'card step', 'aria-labelledby': `step-${num}` },
      h('h2', { id: `step-${num}` }, num ? h('span', { class: 'num', 'aria-hidden': 'true' }, num) : null, title),
      ...children);
  }

  /** The validation report of a dataset: summary, counts by kind, then each problem with line and field. */
  function validationReport(report, filename, opts) {
    const o = opts || {};
    const job = report.job;
    const wrap = h('div', { class: `report ${report.ok ? 'ok' : 'bad'}`, 'data-testid': o.testid || 'validation-report',
      'data-ok': String(report.ok) });
    const lacking = report.n_without_reasoning || 0;
    const summary = report.ok
      ? `✓ Valid for a ${typeLabel(job)} job: ${plural(report.n_valid, 'row')} of ${fmtNum(report.n_rows)} can be used.`
      : `✗ Does not validate for a ${typeLabel(job)} job: ${plural(report.n_errors, 'error')} in ${plural(report.n_rows, 'row')}.`;
    wrap.append(h('p', { class: 'summary', 'data-testid': 'validation-summary' }, summary));
    const facts = h('ul', { class: 'facts' },
      h('li', {}, `${fmtNum(report.n_rows)} rows read`),
      h('li', {}, `${fmtNum(report.n_valid)} valid`),
      h('li', {}, `${fmtNum(report.n_invalid)} invalid`),
      h('li', { 'data-testid': 'lacking-reasoning', class: lacking && job === 'reasoning' ? 'warn' : '' },
        `${fmtNum(lacking)} ${lacking === 1 ? 'row lacks' : 'rows lack'} step-by-step reasoning`),
      report.format ? h('li', {}, `format: ${report.format}`) : null,
      report.n_warnings ? h('li', {}, plural(report.n_warnings, 'warning')) : null);
    wrap.append(facts);
    if (!report.ok && job === 'reasoning' && lacking) {
      wrap.append(h('p', { class: 'hint' }, 'A reasoning job learns to write its working, so each row needs real ' +
        'step-by-step reasoning to imitate. Add it to those rows, or choose Non-Reasoning.'));
    }
    const problems = report.problems || [];
    if (problems.length) {
      const limit = o.limit || problems.length;
      const table = h('table', { class: 'problems', 'data-testid': 'problems' },
        h('caption', { class: 'sr-only' }, 'Problems found'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Where'), h('th', { scope: 'col' }, 'Field'),
          h('th', { scope: 'col' }, 'Severity'), h('th', { scope: 'col' }, 'Problem'))),
        h('tbody', {}, problems.slice(0, limit).map((p) => h('tr', { class: `sev-${p.severity}`, 'data-testid': 'problem',
          'data-line': p.line === null ? '' : String(p.line) },
        h('td', { class: 'mono' }, p.line === null ? `${filename} (whole file)` : `${filename}:${p.line}`),
        h('td', { class: 'mono' }, p.field || '–'),
        h('td', {}, p.severity),
        h('td', {}, p.message)))));
      wrap.append(table);
      const more = Math.max(report.n_errors + report.n_warnings, problems.length) - limit;
      if (more > 0) wrap.append(h('p', { class: 'muted' }, `…and ${plural(more, 'more problem')}.`));
    }
    return wrap;
  }

  // =============================================================================== page: new job
  const draft = {
    job: null, model: null, datasetId: '', snapshotId: '', mode: 'epochs', max_steps: '30', epochs: '1',
    batch_size: '8', learning_rate: '2e-4', lora: true, limit: '', name: '',
  };
  const cache = { catalog: {}, decision: null };

  async function pageNewJob(view, ctx) {
    document.title = 'New job · thinktune studio';
    add(view, h('h1', {}, 'New fine-tuning job'),
      h('p', { class: 'lead' }, 'Choose what the model should learn, a base model, the data, then how long to train.'));

    // ---- 1. job type
    const choices = h('div', { class: 'choices', role: 'radiogroup', 'aria-labelledby': 'step-1' });
    const advice = h('div', { class: 'advice', 'data-testid': 'advice', 'aria-live': 'polite' },
      h('p', { class: 'muted' }, 'Choose a dataset below to get a recommendation for it.'));
    const decision = h('div', { class: 'decision', 'data-testid': 'decision-table' }, h('p', { class: 'muted' }, 'Loading…'));
    const later = h('div', { class: 'later', 'data-testid': 'job-steps' });
    add(view, section(1, 'Reasoning or Non-Reasoning?', choices,
      h('div', { class: 'two-col' },
        h('details', { class: 'decision-box', open: true }, h('summary', {}, 'When does reasoning pay?'), decision),
        h('div', {}, h('h3', {}, 'For your dataset'), advice))),
    later);

    function renderChoices() {
      fill(choices, Object.entries(JOB_TYPES).map(([key, t]) => h('button', {
        type: 'button', role: 'radio', class: 'choice', 'aria-checked': String(draft.job === key),
        'data-testid': `job-type-${key}`, onclick: () => chooseJob(key),
      }, h('strong', {}, t.label), h('span', {}, t.blurb))));
    }
    renderChoices();

    api.get('api/decision-table').then((d) => {
      cache.decision = d.rows;
      fill(decision, h('table', { class: 'compact' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Scenario'), h('th', { scope: 'col' }, 'Leans'),
          h('th', { scope: 'col' }, 'Why'))),
        h('tbody', {}, d.rows.map((r) => h('tr', {},
          h('td', {}, r.scenario), h('td', {}, h('span', { class: `lean lean-${r.leans}` }, typeLabel(r.leans))),
          h('td', { class: 'muted' }, r.why))))));
    }).catch((e) => fill(decision, h('p', { class: 'error-text' }, e.message)));

    // ---- 2-4: shown once the job type is chosen
    const modelBox = h('div', { 'data-testid': 'model-list' });
    const datasetSelect = h('select', { 'data-testid': 'dataset-select', id: 'nj-dataset' });
    const uploadInput = h('input', { type: 'file', accept: '.jsonl,.json,.txt', 'data-testid': 'nj-upload', id: 'nj-upload' });
    const snapshotSelect = h('select', { 'data-testid': 'snapshot-select', id: 'nj-snapshot' });
    const snapFraction = h('input', { type: 'number', min: 0, max: 0.9, step: 0.05, value: '0.1', id: 'nj-snap-frac' });
    const validation = h('div', { 'data-testid': 'nj-validation', 'aria-live': 'polite' });
    const startBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'start-job', disabled: true }, 'Start job');
    const blocker = h('p', { class: 'blocker', 'data-testid': 'start-blocker', 'aria-live': 'polite' });
    const startError = h('p', { class: 'error-text', 'data-testid': 'start-error', hidden: true });

    const num = (key, attrs, testid) => {
      const el = h('input', Object.assign({ type: 'number', value: draft[key], 'data-testid': testid, id: `nj-${key}` }, attrs));
      el.addEventListener('input', () => { draft[key] = el.value; });
      return el;
    };
    const maxSteps = num('max_steps', { min: 1, step: 1 }, 'hp-max-steps');
    const epochs = num('epochs', { min: 0.1, step: 0.1 }, 'hp-epochs');
    const batch = num('batch_size', { min: 1, step: 1 }, 'hp-batch-size');
    const lr = h('input', { type: 'text', inputmode: 'decimal', value: draft.learning_rate, 'data-testid': 'hp-learning-rate',
      id: 'nj-lr', spellcheck: 'false' });
    lr.addEventListener('input', () => { draft.learning_rate = lr.value; });
    const limit = num('limit', { min: 1, step: 1, placeholder: 'all rows' }, 'hp-limit');
    const lora = h('input', { type: 'checkbox', checked: draft.lora, 'data-testid': 'hp-lora', id: 'nj-lora' });
    lora.addEventListener('change', () => { draft.lora = lora.checked; renderModels(); });
    const name = h('input', { type: 'text', value: draft.name, placeholder: 'e.g. arith reasoning v1', 'data-testid': 'job-name',
      id: 'nj-name', maxlength: 120 });
    name.addEventListener('input', () => { draft.name = name.value; });
    const modeSteps = h('input', { type: 'radio', name: 'nj-mode', value: 'steps', id: 'nj-mode-steps', 'data-testid': 'hp-mode-steps',
      checked: draft.mode === 'steps' });
    const modeEpochs = h('input', { type: 'radio', name: 'nj-mode', value: 'epochs', id: 'nj-mode-epochs',
      'data-testid': 'hp-mode-epochs', checked: draft.mode === 'epochs' });
    const syncMode = () => {
      draft.mode = modeSteps.checked ? 'steps' : 'epochs';
      maxSteps.disabled = draft.mode !== 'steps';
      epochs.disabled = draft.mode !== 'epochs';
    };
    modeSteps.addEventListener('change', syncMode);
    modeEpochs.addEventListener('change', syncMode);
    syncMode();

    const hp = h('div', { class: 'hp-grid' },
      h('fieldset', { class: 'field span2' }, h('legend', {}, 'Train for'),
        h('div', { class: 'inline' },
          h('label', { class: 'radio' }, modeSteps, ' a number of steps'),
          h('label', { class: 'radio' }, modeEpochs, ' a number of epochs'))),
      field('Max steps', maxSteps, HELP.max_steps),
      field('Epochs', epochs, HELP.epochs),
      field('Batch size', batch, HELP.batch_size),
      field('Learning rate', lr, HELP.learning_rate),
      h('div', { class: 'field' }, h('label', { class: 'check', for: 'nj-lora' }, lora, ' LoRA adapters'),
        h('small', { class: 'help', id: 'nj-lora-help' }, HELP.lora)),
      field('Row limit', limit, HELP.limit),
      field('Job name', name, HELP.name));
    lora.setAttribute('aria-describedby', 'nj-lora-help');

    add(later,
      section(2, 'Base model', h('p', { class: 'muted' }, 'Memory is an estimate for training (weights, gradients, ' +
        'optimizer state, activations); LoRA needs far less. `tiny` is a 2-layer random model for trying the studio out.'),
      modelBox),
      section(3, 'Data',
        h('div', { class: 'data-row' },
          field('Dataset', datasetSelect, 'A dataset uploaded to the studio (see Datasets).'),
          field('…or upload a file', uploadInput, 'JSONL: question/answer[/reasoning], messages, prompt/completion or GSM8K rows.'),
          field('Snapshot', snapshotSelect, HELP.snapshot)),
        h('div', { class: 'inline snap-new' }, field('New snapshot: validation share', snapFraction, null, 'narrow'),
          h('button', { type: 'button', 'data-testid': 'nj-snapshot-create', onclick: createSnapshot }, 'New snapshot')),
        validation),
      section(4, 'Hyper-parameters', hp),
      h('div', { class: 'start-bar' }, startBtn, blocker, startError));

    function showLater() {
      later.hidden = !draft.job;
    }
    showLater();

    async function chooseJob(key) {
      draft.job = key;
      renderChoices();
      showLater();
      await Promise.all([loadCatalog(), validateSelected()]);
    }

    async function loadCatalog() {
      if (!draft.job) return;
      const job = draft.job;
      if (!cache.catalog[job]) {
        fill(modelBox, h('p', { class: 'muted' }, 'Loading models…'));
        cache.catalog[job] = (await api.get(`api/catalog?job=${job}`)).models;
      }
      if (!ctx.alive() || job !== draft.job) return;
      const models = cache.catalog[job];
      if (!draft.model || !models.some((m) => m.model === draft.model)) draft.model = models[0] ? models[0].model : null;
      renderModels();
    }

    function renderModels() {
      const models = cache.catalog[draft.job];
      if (!models) return;
      fill(modelBox, h('table', { class: 'models' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Choose')),
          h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col' }, 'Params'), h('th', { scope: 'col' }, 'Context'),
          h('th', { scope: 'col', class: draft.lora ? '' : 'hl' }, 'Full fine-tune'),
          h('th', { scope: 'col', class: draft.lora ? 'hl' : '' }, 'LoRA'), h('th', { scope: 'col' }, 'Note'))),
        h('tbody', {}, models.map((m) => {
          const id = nextId('model');
          const radio = h('input', { type: 'radio', name: 'model', value: m.model, id, checked: draft.model === m.model,
            'data-testid': `model-${m.model}` });
          radio.addEventListener('change', () => { draft.model = m.model; renderModels(); });
          return h('tr', { class: draft.model === m.model ? 'selected' : '', 'data-testid': 'model-row', 'data-model': m.model },
            h('td', {}, radio), h('td', {}, h('label', { for: id, class: 'mono' }, m.model)),
            h('td', {}, m.params), h('td', {}, fmtNum(m.context)),
            h('td', { class: draft.lora ? '' : 'hl' }, fmtGb(m.full_ft_gb)),
            h('td', { class: draft.lora ? 'hl' : '' }, fmtGb(m.lora_gb)), h('td', { class: 'muted' }, m.note));
        }))));
    }

    async function loadDatasets(selectId) {
      const { datasets } = await api.get('api/datasets');
      if (!ctx.alive()) return;
      if (selectId !== undefined) draft.datasetId = selectId;
      if (draft.datasetId && !datasets.some((d) => d.id === draft.datasetId)) draft.datasetId = '';
      fill(datasetSelect, h('option', { value: '' }, datasets.length ? '— choose a dataset —' : '— none yet: upload one —'),
        datasets.map((d) => h('option', { value: d.id, selected: d.id === draft.datasetId }, datasetLabel(d))));
      datasetSelect.value = draft.datasetId;
    }

    datasetSelect.addEventListener('change', () => {
      draft.datasetId = datasetSelect.value;
      draft.snapshotId = '';
      validateSelected();
    });
    snapshotSelect.addEventListener('change', () => { draft.snapshotId = snapshotSelect.value; });

    uploadInput.addEventListener('change', async () => {
      const file = uploadInput.files[0];
      if (!file) return;
      fill(validation, h('p', { class: 'muted' }, `Uploading ${file.name}…`));
      try {
        const ds = await api.upload(file);
        uploadInput.value = '';
        await loadDatasets(ds.id);
        draft.snapshotId = '';
        await validateSelected();
      } catch (e) {
        fill(validation, h('p', { class: 'error-text' }, `Upload failed: ${e.message}`));
      }
    });

    let validationSeq = 0;
    async function validateSelected() {
      const seq = ++validationSeq;
      draft.report = null;
      updateStart();
      if (!draft.datasetId) {
        fill(validation, h('p', { class: 'muted' }, 'Choose or upload a dataset: it is checked for the job type you chose.'));
        fill(snapshotSelect, h('option', { value: '' }, 'Whole dataset'));
        fill(advice, h('p', { class: 'muted' }, 'Choose a dataset below to get a recommendation for it.'));
        return;
      }
      const id = draft.datasetId;
      loadAdvice(id);
      if (!draft.job) return;
      fill(validation, h('p', { class: 'muted' }, `Validating for a ${typeLabel(draft.job)} job…`));
      try {
        const [report, ds] = await Promise.all([api.post(`api/datasets/${id}/validate?job=${draft.job}`),
          api.get(`api/datasets/${id}`)]);
        if (seq !== validationSeq || !ctx.alive()) return;
        draft.report = report;
        fill(snapshotSelect, h('option', { value: '' }, 'Whole dataset (the job makes its own split)'),
          ds.snapshots.map((sn) => h('option', { value: sn.id, selected: sn.id === draft.snapshotId },
            `snapshot ${sn.id} — ${sn.train} train / ${sn.validation} validation`)));
        snapshotSelect.value = draft.snapshotId;
        fill(validation, validationReport(report, ds.filename, { limit: 5 }),
          h('p', { class: 'muted' }, h('a', { href: `#/datasets/${id}` }, 'Full report, preview and snapshots →')));
      } catch (e) {
        if (seq === validationSeq) fill(validation, h('p', { class: 'error-text' }, e.message));
      }
      updateStart();
    }

    async function loadAdvice(id) {
      fill(advice, h('p', { class: 'muted' }, 'Reading the dataset…'));
      try {
        const a = await api.get(`api/datasets/${id}/advise`);
        if (id !== draft.datasetId || !ctx.alive()) return;
        const rec = a.recommendation;
        fill(advice, h('p', { class: 'recommendation', 'data-testid': 'advice-recommendation' },
          'Recommendation: ', h('span', { class: `lean lean-${rec}` }, typeLabel(rec) === rec ? rec : typeLabel(rec)),
          ` (confidence ${Math.round(a.confidence * 100)}%)`),
        h('ul', { class: 'reasons' }, a.reasons.map((r) => h('li', {}, r))),
        draft.job && rec !== draft.job && JOB_TYPES[rec]
          ? h('button', { type: 'button', class: 'link', onclick: () => chooseJob(rec) }, `Switch to ${typeLabel(rec)}`) : null);
      } catch (e) {
        if (id !== draft.datasetId) return;
        fill(advice, h('p', { class: 'error-text', 'data-testid': 'advice-error' }, e.status === 422
          ? 'No recommendation: some rows of this dataset cannot be read (see its validation report below).'
          : `No recommendation: ${e.message}`));
      }
    }

    async function createSnapshot() {
      if (!draft.datasetId) return showError('Choose a dataset first.');
      try {
        const sn = await api.post(`api/datasets/${draft.datasetId}/snapshots`, { val_fraction: Number(snapFraction.value) || 0 });
        draft.snapshotId = sn.id;
        await validateSelected();
      } catch (e) {
        showError(e);
      }
    }

    function updateStart() {
      let why = '';
      if (!draft.job) why = 'Choose Reasoning or Non-Reasoning.';
      else if (!draft.model) why = 'Choose a base model.';
      else if (!draft.datasetId) why = 'Choose or upload a dataset.';
      else if (!draft.report) why = 'Validating the dataset…';
      else if (!draft.report.ok) {
        const n = draft.report.n_without_reasoning;
        why = `The dataset does not validate for a ${typeLabel(draft.job)} job (${plural(draft.report.n_errors, 'error')}` +
          (draft.job === 'reasoning' && n ? `; ${n} ${n === 1 ? 'row lacks' : 'rows lack'} step-by-step reasoning` : '') + ').';
      }
      startBtn.disabled = Boolean(why);
      blocker.textContent = why;
    }

    function collectConfig() {
      const int = (v, label, min) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) throw new Error(`${label}: a whole number of at least ${min}`);
        return n;
      };
      const config = { job: draft.job, model: draft.model, batch_size: int(batch.value, 'Batch size', 1),
        lora: { enabled: lora.checked } };
      const rate = Number(lr.value);
      if (!(rate > 0)) throw new Error('Learning rate: a positive number such as 2e-4');
      config.learning_rate = rate;
      if (draft.mode === 'steps') {
        config.max_steps = int(maxSteps.value, 'Max steps', 1);
      } else {
        const e = Number(epochs.value);
        if (!(e > 0)) throw new Error('Epochs: a positive number');
        config.max_steps = -1;
        config.epochs = e;
      }
      if (limit.value.trim()) config.limit = int(limit.value, 'Row limit', 1);
      return config;
    }

    startBtn.addEventListener('click', async () => {
      startError.hidden = true;
      let body;
      try {
        body = { kind: 'sft', config: collectConfig() };
      } catch (e) {
        startError.textContent = e.message;
        startError.hidden = false;
        return;
      }
      if (name.value.trim()) body.name = name.value.trim();
      if (draft.snapshotId) body.snapshot_id = draft.snapshotId;
      else body.dataset_id = draft.datasetId;
      startBtn.disabled = true;
      startBtn.textContent = 'Starting…';
      try {
        const job = await api.post('api/jobs', body);
        location.hash = `#/jobs/${job.id}`;
      } catch (e) {
        startError.textContent = `Not started: ${e.message}`;
        startError.hidden = false;
        startBtn.textContent = 'Start job';
        updateStart();
      }
    });

    await loadDatasets();
    if (draft.job) {
      await Promise.all([loadCatalog(), validateSelected()]);
    } else {
      updateStart();
      if (draft.datasetId) loadAdvice(draft.datasetId);
    }
  }

  // ================================================================================== page: jobs
  async function pageJobs(view, ctx) {
    document.title = 'Jobs · thinktune studio';
    const body = h('div', { 'data-testid': 'jobs', class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
    add(view, h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'), h('a', { class: 'button primary', href: '#/new' }, 'New job')),
      body);
    every(ctx, 2000, async () => {
      const { jobs } = await api.get('api/jobs');
      if (!ctx.alive()) return false;
      fill(body, jobsTable(jobs));
      return jobs.some((j) => ACTIVE.includes(j.status));
    });
  }

  function jobsTable(jobs, opts) {
    const o = opts || {};
    if (!jobs.length) return h('p', { class: 'empty' }, o.empty || 'No jobs yet. ', h('a', { href: '#/new' }, 'Start one.'));
    return h('table', { class: 'jobs', 'data-testid': o.testid || 'jobs-table' },
      h('thead', {}, h('tr', {}, ['Job', 'Kind', 'Status', 'Progress', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, jobs.map((j) => {
        return h('tr', { 'data-testid': 'job-row', 'data-job-id': j.id, 'data-status': j.status },
          h('td', {}, h('a', { href: `#/jobs/${j.id}`, class: 'strong' }, j.name || j.id), h('div', { class: 'muted mono small' }, j.id)),
          h('td', {}, j.kind),
          h('td', {}, badge(j.status)),
          h('td', { class: 'progress-cell' }, progressBar(j, 'job-row-progress'), h('div', { class: 'small muted' }, progressText(j))),
          h('td', { class: 'small', title: fmtTime(j.created) }, fmtAgo(j.created)),
          h('td', {}, j.kind === 'compare' && j.status === 'succeeded' ? h('a', { href: `#/jobs/${j.id}` }, 'report') : null));
      })));
  }

  // =================================================================================== page: job
  async function pageJob(view, ctx, params, id) {
    document.title = `${id} · thinktune studio`;
    const title = h('h1', { 'data-testid': 'job-title' }, id);
    const meta = h('p', { class: 'meta' });
    const statusSlot = h('span', {});
    const actions = h('div', { class: 'actions' });
    const bar = h('div', {});
    const ptext = h('p', { class: 'progress-text', 'data-testid': 'job-progress-text' });
    const errorLine = h('p', { class: 'error-line', 'data-testid': 'job-error', hidden: true });
    const alarms = h('div', { 'data-testid': 'job-alarms' });
    const charts = h('div', { class: 'charts', 'data-testid': 'job-charts' });
    let chartsCard = null;
    const reportBox = h('div', { 'data-testid': 'job-report' });
    const lineage = h('div', { 'data-testid': 'job-lineage' });
    const finals = h('div', { 'data-testid': 'job-metrics' });
    const config = h('pre', { class: 'config' });
    const logPre = h('pre', { class: 'log', 'data-testid': 'job-log', tabindex: 0, 'aria-label': 'log tail' });
    add(view,
      h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, '← Jobs')),
      h('div', { class: 'page-head' }, h('div', {}, h('div', { class: 'title-row' }, title, statusSlot), meta), actions),
      h('section', { class: 'card' }, h('h2', {}, 'Progress'), bar, ptext, errorLine, alarms),
      chartsCard = h('section', { class: 'card' }, h('h2', {}, 'Charts'), charts),
      reportBox,
      h('div', { class: 'two-col' },
        h('section', { class: 'card' }, h('h2', {}, 'Result'), finals, h('h3', {}, 'Lineage'), lineage,
          h('details', {}, h('summary', {}, 'Configuration'), config)),
        h('section', { class: 'card' }, h('h2', {}, 'Log'), logPre)));

    let job = null;
    let lastKey = '';
    let reportShown = false;
    let stopPoll = null;
    let renderedStatus = null;

    function renderHead() {
      title.textContent = job.name || job.id;
      fill(statusSlot, badge(job.status));
      const c = job.config || {};
      fill(meta, h('span', { class: 'mono' }, job.id), ' · ', job.kind,
        c.job ? [' · ', typeLabel(c.job)] : null, c.model ? [' · model ', h('span', { class: 'mono' }, c.model)] : null,
        job.dataset_id ? [' · dataset ', h('a', { href: `#/datasets/${job.dataset_id}` }, job.dataset_id)] : null,
        ' · created ', fmtTime(job.created),
        job.ended && job.started ? ` · ran ${fmtDur(job.ended - job.started)}` : '');
      if (renderedStatus !== job.status) renderActions();  // not every second: a focused button keeps its focus
      const current = bar.firstElementChild;
      if (current) {  // in place, so that the bar's width glides
        const v = progressPct(job);
        current.className = `progress status-${job.status}`;
        current.setAttribute('aria-valuenow', v);
        current.firstElementChild.style.width = `${v}%`;
      } else {
        fill(bar, progressBar(job, 'job-progress'));
      }
      const phase = job.progress && job.progress.phase ? `${job.progress.phase}: ` : '';
      ptext.textContent = phase + progressText(job);
      errorLine.hidden = !job.error;
      errorLine.textContent = job.error ? `${job.status === 'failed' ? 'Failed: ' : ''}${job.error}` : '';
      const events = (job.progress && job.progress.events) || [];
      fill(alarms, events.length ? h('h3', {}, 'Alarms and notices') : null, events.length ? h('ul', { class: 'alarms' }, events.map((e) => h('li', { class: `alarm-${e.kind}` },
        h('strong', {}, e.kind), ' ', e.message, h('span', { class: 'muted small' }, ` ${fmtTime(e.time)}`)))) : null);
      config.textContent = JSON.stringify(job.config, null, 2);
      const m = job.metrics || {};
      const keys = Object.keys(m);
      fill(finals, keys.length ? h('table', { class: 'kv' }, h('tbody', {}, keys.map((k) => h('tr', {},
        h('th', { scope: 'row' }, k), h('td', { class: 'mono' }, typeof m[k] === 'object' ? JSON.stringify(m[k]) : fmtNum(m[k]))))))
        : h('p', { class: 'muted' }, TERMINAL.includes(job.status) ? 'No metrics recorded.' : 'The final metrics appear when the job ends.'));
    }

    function renderActions() {
      renderedStatus = job.status;
      const btns = [];
      if (['queued', 'running'].includes(job.status)) {
        btns.push(h('button', { type: 'button', class: 'danger', 'data-testid': 'job-cancel', onclick: () => act('cancel') }, 'Cancel'));
      }
      if (['cancelled', 'failed', 'interrupted'].includes(job.status)) {
        btns.push(h('button', { type: 'button', 'data-testid': 'job-resume', onclick: () => act('resume') }, 'Resume'));
      }
      if (job.status === 'succeeded' && ['sft', 'grpo'].includes(job.kind)) {
        btns.push(h('a', { class: 'button primary', href: `#/playground?model=${encodeURIComponent(job.id)}`,
          'data-testid': 'job-playground' }, 'Try it in the playground'));
      }
      if (TERMINAL.includes(job.status)) {
        btns.push(h('button', { type: 'button', class: 'quiet', 'data-testid': 'job-delete', onclick: remove }, 'Delete'));
      }
      fill(actions, btns);
    }

    async function renderLineage() {
      const parents = [...new Set([job.parent, ...(job.lineage || [])].filter(Boolean))];
      let all = [];
      try {
        all = (await api.get('api/jobs')).jobs;
      } catch (e) { /* shown without links */ }
      const byDir = new Map(all.map((j) => [j.run_dir, j]));
      const children = all.filter((j) => j.parent === job.run_dir);
      const link = (dir) => byDir.has(dir)
        ? h('a', { href: `#/jobs/${byDir.get(dir).id}` }, byDir.get(dir).name || byDir.get(dir).id)
        : h('span', { class: 'mono small' }, dir);
      fill(lineage, h('ul', { class: 'lineage' },
        parents.length ? parents.map((p) => h('li', {}, 'from ', link(p))) : h('li', { class: 'muted' }, `from the base model ${(job.config || {}).model || ''}`),
        children.map((c) => h('li', {}, 'continued by ', h('a', { href: `#/jobs/${c.id}` }, c.name || c.id), ` (${c.status})`))));
    }

    async function renderReport() {
      if (reportShown || job.status !== 'succeeded' || !['compare', 'eval'].includes(job.kind)) return;
      reportShown = true;
      try {
        const html = await api.get(`api/jobs/${id}/report`, { text: true });
        const frame = h('iframe', { class: 'report-frame', title: 'report', sandbox: '', 'data-testid': 'report-frame' });
        frame.srcdoc = html;
        const open = h('button', { type: 'button', onclick: () => {
          const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
          window.open(url, '_blank', 'noopener');
        } }, 'Open in a new tab');
        fill(reportBox, h('section', { class: 'card' }, h('div', { class: 'page-head' }, h('h2', {}, 'Report'), open), frame));
      } catch (e) {
        fill(reportBox, h('p', { class: 'muted' }, `No report: ${e.message}`));
      }
    }

    async function refresh() {
      job = await api.get(`api/jobs/${id}`);
      if (!ctx.alive()) return false;
      renderHead();
      const p = job.progress || {};
      const key = `${job.status}|${p.done}|${p.phase}`;
      const tasks = [api.get(`api/jobs/${id}/log?lines=60`, { text: true }).then((t) => {
        const atEnd = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 8;
        logPre.textContent = t || '(no output yet)';
        if (atEnd) logPre.scrollTop = logPre.scrollHeight;
      })];
      if (key !== lastKey) {
        lastKey = key;
        tasks.push(api.get(`api/jobs/${id}/metrics`).then((m) => {
          fill(charts, metricCharts(m.rows));
          charts.classList.toggle('single', charts.children.length === 1);
          chartsCard.hidden = !m.rows.length && TERMINAL.includes(job.status);
        }));
      }
      await Promise.all(tasks);
      if (TERMINAL.includes(job.status)) {
        await Promise.all([renderLineage(), renderReport()]);
        return false;
      }
      return true;
    }

    function poll() {
      if (stopPoll) stopPoll();
      stopPoll = every(ctx, 1000, refresh);
    }

    async function act(what) {
      try {
        await api.post(`api/jobs/${id}/${what}`);
        lastKey = '';
        renderedStatus = null;
        reportShown = false;
        poll();
      } catch (e) {
        showError(e);
      }
    }

    async function remove() {
      if (!window.confirm(`Delete job ${id} and its run folder?`)) return;
      try {
        await api.del(`api/jobs/${id}`);
        location.hash = '#/jobs';
      } catch (e) {
        showError(e);
      }
    }

    try {
      await refresh();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        fill(view, h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, '← Jobs')),
          h('p', { class: 'empty', 'data-testid': 'page-error' }, `There is no job ${id}.`));
        return;
      }
      throw e;
    }
    renderLineage();
    if (!TERMINAL.includes(job.status)) poll();
  }

  // ============================================================================== page: datasets
  async function pageDatasets(view, ctx, params, selected) {
    document.title = 'Datasets · thinktune studio';
    const file = h('input', { type: 'file', accept: '.jsonl,.json,.txt', 'data-testid': 'dataset-file', id: 'ds-file' });
    const dsName = h('input', { type: 'text', id: 'ds-name', placeholder: 'from the file name', 'data-testid': 'dataset-name' });
    const uploadBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'dataset-upload' }, 'Upload');
    const uploadMsg = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'upload-status' });
    const list = h('div', { 'data-testid': 'datasets-list' }, h('p', { class: 'muted' }, 'Loading…'));
    const detail = h('div', { 'data-testid': 'dataset-detail' });
    const form = h('form', { class: 'upload' },
      field('File', file, 'JSONL rows: question/answer[/reasoning], messages, prompt/completion or GSM8K. Validated on upload.'),
      field('Name', dsName, 'Optional.'), h('div', { class: 'field end' }, uploadBtn), uploadMsg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = file.files[0];
      if (!f) {
        uploadMsg.textContent = 'Choose a file first.';
        return;
      }
      uploadBtn.disabled = true;
      uploadMsg.textContent = `Uploading ${f.name} (${fmtBytes(f.size)})…`;
      try {
        const ds = await api.upload(f, dsName.value.trim());
        uploadMsg.textContent = `Uploaded ${ds.filename}: ${plural(ds.rows, 'row')}.`;
        file.value = '';
        dsName.value = '';
        if (location.hash === `#/datasets/${ds.id}`) route();
        else location.hash = `#/datasets/${ds.id}`;
      } catch (e) {
        uploadMsg.textContent = `Upload failed: ${e.message}`;
      } finally {
        uploadBtn.disabled = false;
      }
    });
    add(view, h('h1', {}, 'Datasets'),
      h('div', { class: 'ds-layout' },
        h('div', {}, h('section', { class: 'card' }, h('h2', {}, 'Upload'), form),
          h('section', { class: 'card' }, h('h2', {}, 'Your datasets'), list)),
        detail));

    const { datasets } = await api.get('api/datasets');
    if (!ctx.alive()) return;
    fill(list, datasets.length ? h('ul', { class: 'ds-list' }, datasets.map((d) => h('li', {
      class: d.id === selected ? 'selected' : '', 'data-testid': 'dataset-item', 'data-id': d.id },
    h('a', { href: `#/datasets/${d.id}`, 'aria-current': d.id === selected ? 'true' : null }, h('strong', {}, d.name)),
    h('span', { class: 'small muted' }, ` ${d.filename} · ${plural(d.rows, 'row')} · `),
    h('span', { class: d.ok ? 'ok-text small' : 'bad-text small' },
      d.ok === null || d.ok === undefined ? 'not validated' : d.ok ? 'valid' : `${plural(d.n_errors, 'error')}`))))
      : h('p', { class: 'empty' }, 'None yet: upload a JSONL file.'));
    if (!selected) {
      fill(detail, h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Choose a dataset to see its validation report, ' +
        'a preview of its rows and its snapshots.')));
      return;
    }
    await datasetDetail(detail, ctx, selected);
  }

  async function datasetDetail(detail, ctx, id) {
    const ds = await api.get(`api/datasets/${id}`);
    if (!ctx.alive()) return;
    const v = ds.validation;
    const jobSel = h('select', { id: 'ds-job', 'data-testid': 'validate-job' },
      Object.entries(JOB_TYPES).map(([k, t]) => h('option', { value: k, selected: v ? v.job === k : k === 'reasoning' }, t.label)));
    const reportBox = h('div', {}, v ? validationReport(v, ds.filename) : h('p', { class: 'muted' }, 'Not validated yet.'));
    const previewBox = h('div', { 'data-testid': 'preview' }, h('p', { class: 'muted' }, 'Loading rows…'));
    const snapBox = h('div', { 'data-testid': 'snapshots' });
    const frac = h('input', { type: 'number', id: 'snap-frac', min: 0, max: 0.9, step: 0.05, value: '0.1', 'data-testid': 'snapshot-fraction' });
    const seed = h('input', { type: 'number', id: 'snap-seed', step: 1, value: '0', 'data-testid': 'snapshot-seed' });
    const validateBtn = h('button', { type: 'button', 'data-testid': 'validate-button' }, 'Validate');

    async function revalidate() {
      validateBtn.disabled = true;
      try {
        const report = await api.post(`api/datasets/${id}/validate?job=${jobSel.value}`);
        fill(reportBox, validationReport(report, ds.filename));
        await loadPreview();
      } catch (e) {
        fill(reportBox, h('p', { class: 'error-text' }, e.message));
      } finally {
        validateBtn.disabled = false;
      }
    }
    validateBtn.addEventListener('click', revalidate);

    async function loadPreview() {
      try {
        const { rows } = await api.get(`api/datasets/${id}/preview?job=${jobSel.value}&n=5`);
        fill(previewBox, rows.length ? rows.map((r, i) => h('article', { class: 'row-preview', 'data-testid': 'preview-row' },
          h('div', { class: 'small muted mono' }, /:(\d+)$/.test(r.location || '') ? `line ${r.location.match(/:(\d+)$/)[1]}` : `row ${i + 1}`),
          h('h4', {}, 'Question'), h('p', { class: 'q' }, r.question),
          h('div', { class: 'split' },
            h('div', {}, h('h4', {}, 'Thinking'), r.thinking ? h('pre', { class: 'thinking-text', 'data-testid': 'preview-thinking' }, r.thinking)
              : h('p', { class: 'muted', 'data-testid': 'preview-thinking' }, '(no thinking in this row)')),
            h('div', {}, h('h4', {}, 'Answer'), h('pre', { class: 'answer-text', 'data-testid': 'preview-answer' }, r.answer))),
          r.error ? h('p', { class: 'error-text' }, r.error)
            : h('details', {}, h('summary', {}, `As the model is trained on it (${typeLabel(jobSel.value)})`), h('pre', { class: 'target' }, r.target))))
          : h('p', { class: 'muted' }, 'No readable rows.'));
      } catch (e) {
        fill(previewBox, h('p', { class: 'error-text' }, `No preview: ${e.message}`));
      }
    }

    function renderSnapshots(snaps) {
      fill(snapBox, snaps.length ? h('table', { class: 'compact' },
        h('thead', {}, h('tr', {}, ['Snapshot', 'Train', 'Validation', 'Share', 'Seed', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, snaps.map((sn) => h('tr', { 'data-testid': 'snapshot-row' }, h('td', { class: 'mono' }, sn.id), h('td', {}, fmtNum(sn.train)),
          h('td', {}, fmtNum(sn.validation)), h('td', {}, fmtNum(sn.val_fraction)), h('td', {}, sn.seed), h('td', { class: 'small' }, fmtAgo(sn.created))))))
        : h('p', { class: 'muted' }, 'No snapshots yet. A snapshot fixes the train/validation split, so jobs compare on the same rows.'));
    }
    renderSnapshots(ds.snapshots);
    const snapBtn = h('button', { type: 'button', 'data-testid': 'snapshot-create', onclick: async () => {
      snapBtn.disabled = true;
      try {
        await api.post(`api/datasets/${id}/snapshots`, { val_fraction: Number(frac.value) || 0, seed: Math.trunc(Number(seed.value) || 0) });
        renderSnapshots((await api.get(`api/datasets/${id}`)).snapshots);
      } catch (e) {
        showError(e);
      } finally {
        snapBtn.disabled = false;
      }
    } }, 'Create snapshot');

    fill(detail,
      h('section', { class: 'card' },
        h('div', { class: 'page-head' }, h('div', {}, h('h2', { 'data-testid': 'dataset-title' }, ds.name),
          h('p', { class: 'meta' }, `${ds.filename} · ${fmtBytes(ds.size)} · ${plural(ds.rows, 'row')} · uploaded ${fmtTime(ds.created)}`)),
        h('div', { class: 'inline' }, h('a', { class: 'button', href: '#/new', onclick: () => { draft.datasetId = id; draft.snapshotId = ''; } },
          'Train on it'))),
        h('h3', {}, 'Validation'),
        h('div', { class: 'inline' }, field('Check for a job type', jobSel, null, 'narrow'), validateBtn),
        reportBox),
      h('section', { class: 'card' }, h('h2', {}, 'Preview'),
        h('p', { class: 'muted' }, 'The first rows as the model will see them: the thinking and the answer apart.'), previewBox),
      h('section', { class: 'card' }, h('h2', {}, 'Snapshots'), snapBox,
        h('div', { class: 'inline' }, field('Validation share', frac, null, 'narrow'), field('Seed', seed, null, 'narrow'), snapBtn)));
    jobSel.addEventListener('change', revalidate);
    await loadPreview();
  }

  // =============================================================================== page: compare
  async function pageCompare(view, ctx) {
    document.title = 'Compare · thinktune studio';
    const catalog = await api.get('api/catalog');
    const { datasets } = await api.get('api/datasets');
    if (!ctx.alive()) return;
    const model = h('select', { id: 'cmp-model', 'data-testid': 'compare-model' },
      catalog.models.map((m) => h('option', { value: m.model, selected: m.model === 'tiny' }, `${m.model} (${m.params})`)));
    const data = h('select', { id: 'cmp-data', 'data-testid': 'compare-data' },
      h('option', { value: '' }, 'Generate problems from the task'),
      datasets.map((d) => h('option', { value: d.id }, datasetLabel(d))));
    const inputs = {};
    const numField = (key, label, value, help, attrs) => {
      inputs[key] = h('input', Object.assign({ type: 'number', id: `cmp-${key}`, value, 'data-testid': `compare-${key}` }, attrs || { min: 1, step: 1 }));
      return field(label, inputs[key], help);
    };
    const task = h('select', { id: 'cmp-task', 'data-testid': 'compare-task' },
      ['arithmetic', 'countdown', 'gsm8k'].map((t) => h('option', { value: t }, t)));
    const lora = h('input', { type: 'checkbox', id: 'cmp-lora', 'data-testid': 'compare-lora' });
    const msg = h('p', { class: 'error-text', hidden: true, 'data-testid': 'compare-error' });
    const launch = h('button', { type: 'submit', class: 'primary', 'data-testid': 'compare-launch' }, 'Launch comparison');
    const form = h('form', { class: 'hp-grid' },
      field('Base model', model, 'Both variants start from it (compare: model).'),
      field('Data', data, 'A dataset whose rows carry step-by-step reasoning, or problems generated from the task (data).'),
      field('Task', task, 'Built-in task used when no dataset is chosen (task).'),
      numField('steps', 'Steps', '36', 'Optimizer steps for each variant: the same budget (steps).'),
      numField('train_rows', 'Training rows', '288', 'Training rows; both variants see the same ones (train_rows).'),
      numField('eval_questions', 'Evaluation questions', '48', 'Held-out questions for the trained variants (eval_questions).'),
      numField('base_eval_questions', 'Base-model questions', '12', 'Held-out questions for the base model rows; 0 skips them.', { min: 0, step: 1 }),
      numField('batch_size', 'Batch size', '8', 'Training rows per step (batch_size).'),
      field('Learning rate', inputs.learning_rate = h('input', { type: 'text', id: 'cmp-lr', value: '1e-4', 'data-testid': 'compare-learning_rate' }),
        'Peak learning rate: full fine-tunes ~1e-4, LoRA ~1e-3 (learning_rate).'),
      h('div', { class: 'field' }, h('label', { class: 'check', for: 'cmp-lora' }, lora, ' LoRA adapters'),
        h('small', { class: 'help' }, 'Off: both variants are fine-tuned in full (the quickstart default).')),
      h('div', { class: 'field span2' }, launch, msg));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      const config = { model: model.value, lora: { enabled: lora.checked }, learning_rate: Number(inputs.learning_rate.value) };
      for (const key of ['steps', 'train_rows', 'eval_questions', 'base_eval_questions', 'batch_size']) config[key] = Number(inputs[key].value);
      const body = { kind: 'compare', config, name: `compare ${model.value}` };
      if (data.value) body.dataset_id = data.value;
      else config.task = task.value;
      launch.disabled = true;
      try {
        const job = await api.post('api/jobs', body);
        location.hash = `#/jobs/${job.id}`;
      } catch (e) {
        msg.textContent = `Not launched: ${e.message}`;
        msg.hidden = false;
      } finally {
        launch.disabled = false;
      }
    });
    const listBox = h('div', { 'data-testid': 'compare-jobs' });
    add(view, h('h1', {}, 'Compare reasoning and non-reasoning'),
      h('p', { class: 'lead' }, 'Trains both variants of one base model on the same rows and budget, evaluates them (and the hybrid ' +
        'routers) on held-out questions, and writes a report: accuracy, tokens and latency, side by side.'),
      h('section', { class: 'card' }, h('h2', {}, 'New comparison'), form),
      h('section', { class: 'card' }, h('h2', {}, 'Comparisons'), listBox));
    every(ctx, 2000, async () => {
      const jobs = (await api.get('api/jobs')).jobs.filter((j) => j.kind === 'compare');
      if (!ctx.alive()) return false;
      fill(listBox, jobsTable(jobs, { testid: 'compare-table', empty: 'No comparisons yet. ' }));
      return jobs.some((j) => ACTIVE.includes(j.status));
    });
  }

  // ============================================================================== page: flywheel
  // Short help texts of the flywheel round's fields (thinktune.flywheel.config.FlywheelConfig).
  const FW_HELP = {
    trace_model: 'Only the traces this served model answered (trace_model); empty: every model.',
    scorer: 'Whose score the table shows and filters by; “newest” is the newest of any scorer.',
    reference: 'Where the gold answers come from for the verifier and the teacher: a task (arithmetic, countdown, ' +
      'gsm8k, jsonl:PATH); questions are matched by their text (reference).',
    reference_options: 'The reference task\'s options, as JSON, e.g. {"ops": 1, "digits": 1} (reference_options).',
    reference_size: 'Reference questions to load (reference_size); no more than the task can draw.',
    model: 'The model served before the first round, version v0 (model); later rounds start from the current version.',
    held_out: 'The gate\'s fixed held-out task; none of its questions may enter training (held_out).',
    held_out_options: 'The held-out task\'s options, as JSON (held_out_options).',
    held_out_size: 'Held-out questions both models answer at the gate (held_out_size).',
    threshold: 'Keep traces scoring at least this, from 0 to 1 (threshold).',
    teacher: 'Traces below the threshold: dropped, or rewritten from the reference\'s gold solution (teacher).',
    max_steps: 'Optimizer steps of the retraining SFT job (sft.max_steps).',
    batch_size: 'Rows per step of the retraining (sft.batch_size).',
    learning_rate: 'Peak learning rate of the retraining, a full fine-tune (sft.learning_rate).',
    margin: 'Promote only when the new model gains at least this accuracy, e.g. 0.02 (margin).',
    alpha: '…and only when the one-sided paired McNemar test gives p < alpha (alpha); empty: the margin alone.',
  };
  const fw = {
    model: '', scorer: '', min: '', max: '', reference: 'arithmetic', reference_options: '{}', reference_size: '2000',
    base: '', held_out: 'arithmetic', held_out_options: '{}', held_out_size: '100', threshold: '1', teacher: '',
    max_steps: '20', batch_size: '8', learning_rate: '5e-5', margin: '0', alpha: '0.05',
  };
  const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : '–');

  async function pageFlywheel(view, ctx) {
    document.title = 'Flywheel · thinktune studio';
    const [models, flywheel] = await Promise.all([api.get('api/models'), api.get('api/flywheel')]);
    if (!ctx.alive()) return;
    let registry = flywheel.registry;

    /** An input or select bound to `fw[key]`. */
    const bound = (key, tag, attrs, ...children) => {
      const el = h(tag, Object.assign({ id: `fw-${key}`, 'data-testid': `fw-${key}` }, attrs), ...children);
      el.value = fw[key];
      el.addEventListener(tag === 'select' ? 'change' : 'input', () => { fw[key] = el.value; });
      return el;
    };
    const text = (key, attrs) => bound(key, 'input', Object.assign({ type: 'text', spellcheck: 'false' }, attrs));
    const num = (key, attrs) => bound(key, 'input', Object.assign({ type: 'number' }, attrs));

    // ---- 1. traces
    const seen = h('datalist', { id: 'fw-seen-models' });
    const modelFilter = text('model', { list: 'fw-seen-models', placeholder: 'all models' });
    const scorer = bound('scorer', 'select', {}, h('option', { value: '' }, 'newest of any'),
      ['verifier', 'judge', 'feedback'].map((s) => h('option', { value: s }, s)));
    const minScore = num('min', { min: 0, max: 1, step: 0.1, placeholder: 'any' });
    const maxScore = num('max', { min: 0, max: 1, step: 0.1, placeholder: 'any' });
    const count = h('p', { class: 'muted small', 'data-testid': 'traces-count', 'aria-live': 'polite' });
    const tracesBox = h('div', { 'data-testid': 'traces' }, h('p', { class: 'muted' }, 'Loading…'));
    const filters = h('form', { class: 'filters', 'aria-label': 'Filter the traces' },
      field('Served model', modelFilter, null), field('Scorer', scorer, null),
      field('Min score', minScore, null), field('Max score', maxScore, null),
      h('div', { class: 'field end' }, h('button', { type: 'submit', 'data-testid': 'traces-reload' }, 'Apply / reload')));
    filters.addEventListener('submit', (ev) => {
      ev.preventDefault();
      loadTraces();
    });
    scorer.addEventListener('change', loadTraces);
    add(view, h('h1', {}, 'Flywheel'),
      h('p', { class: 'lead' }, 'Continuous fine-tuning from what the studio\'s served models answered: score the traces, ' +
        'keep the good ones, retrain, and serve the new model only when it beats the old one on held-out questions.'),
      section(1, 'Served traces', filters, h('small', { class: 'help' }, `Served model: ${FW_HELP.trace_model} Scorer: ${FW_HELP.scorer}`),
        seen, count, tracesBox));

    let traceSeq = 0;
    async function loadTraces() {
      const seq = ++traceSeq;
      const q = new URLSearchParams({ limit: '200' });
      if (fw.model.trim()) q.set('model', fw.model.trim());
      if (fw.scorer) q.set('scorer', fw.scorer);
      if (fw.min !== '') q.set('min_score', fw.min);
      if (fw.max !== '') q.set('max_score', fw.max);
      const filtered = [...q.keys()].length > 1;
      try {
        const { total, traces } = await api.get(`api/traces?${q}`);
        if (seq !== traceSeq || !ctx.alive()) return;
        for (const t of traces) {
          if (t.model && ![...seen.options].some((o) => o.value === t.model)) add(seen, h('option', { value: t.model }));
        }
        count.textContent = traces.length < total ? `Showing the newest ${fmtNum(traces.length)} of ${plural(total, 'trace')}.`
          : `${plural(total, 'trace')}${filtered ? (total === 1 ? ' matches' : ' match') + ' the filters' : ''}.`;
        fill(tracesBox, traces.length ? tracesTable(traces)
          : h('p', { class: 'empty', 'data-testid': 'traces-empty' }, !filtered
            ? 'No traces yet: what the served models answer (Playground, serve/v1) is recorded here.'
            : 'No trace matches these filters.'));
      } catch (e) {
        if (seq === traceSeq) fill(tracesBox, h('p', { class: 'error-text' }, e.message));
      }
    }

    // ---- 2. score
    const reference = text('reference', { list: 'fw-tasks' });
    const refOptions = text('reference_options', { class: 'mono' });
    const refSize = num('reference_size', { min: 1, step: 1 });
    const scoreBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'fw-score' }, 'Score these');
    const scoreMsg = h('div', { 'data-testid': 'score-job', 'aria-live': 'polite' });
    const scoreForm = h('form', { class: 'hp-grid' },
      field('Reference task', reference, FW_HELP.reference), field('Reference options', refOptions, FW_HELP.reference_options),
      field('Reference questions', refSize, FW_HELP.reference_size),
      h('div', { class: 'field span2' }, h('div', { class: 'inline' }, scoreBtn,
        h('small', { class: 'help' }, 'Scores every trace of the served model above that the verifier has not scored yet ' +
          '(scorers: verifier); earlier scores are kept.')), scoreMsg));
    scoreForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let config;
      try {
        config = Object.assign({ scorers: ['verifier'] }, referenceConfig());
      } catch (e) {
        return fill(scoreMsg, h('p', { class: 'error-text', 'data-testid': 'fw-error' }, e.message));
      }
      await launch(scoreBtn, scoreMsg, { kind: 'score', config, name: 'score traces (verifier)' }, (job) => {
        if (job.status === 'succeeded') loadTraces();
      });
    });

    // ---- 3. fine-tune
    const current = registry ? registry.versions[registry.current] : null;
    const base = h('select', { id: 'fw-base', 'data-testid': 'fw-base' },
      current ? h('optgroup', { label: 'Served now' }, h('option', { value: `path:${current.model}` },
        `${registry.current} — ${registry.name} (${current.model})`)) : null,
      models.trained.length ? h('optgroup', { label: 'Trained in the studio' }, models.trained.map((m) =>
        h('option', { value: `job:${m.id}` }, `${m.name} — ${typeLabel(m.job)}, ${m.model} (${m.id})`))) : null,
      h('optgroup', { label: 'Base models' }, models.base.map((b) => h('option', { value: `spec:${b}` }, b))));
    const values = [...base.options].map((o) => o.value);
    if (!values.includes(fw.base)) {
      fw.base = current ? `path:${current.model}`
        : models.trained.length ? `job:${models.trained[models.trained.length - 1].id}` : 'spec:tiny';
    }
    base.value = fw.base;
    base.addEventListener('change', () => { fw.base = base.value; });
    const teacher = bound('teacher', 'select', {}, h('option', { value: '' }, 'none: drop them'),
      h('option', { value: 'gold' }, 'gold: the reference\'s solution'));
    const tuneBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'fw-finetune' }, 'Fine-tune on these');
    const tuneMsg = h('div', { 'data-testid': 'flywheel-job', 'aria-live': 'polite' });
    const tuneForm = h('form', { class: 'hp-grid' },
      field('Starting model', base, FW_HELP.model),
      field('Held-out task', text('held_out', { list: 'fw-tasks' }), FW_HELP.held_out),
      field('Held-out options', text('held_out_options', { class: 'mono' }), FW_HELP.held_out_options),
      field('Held-out questions', num('held_out_size', { min: 1, step: 1 }), FW_HELP.held_out_size),
      field('Score threshold', num('threshold', { min: 0, max: 1, step: 0.1 }), FW_HELP.threshold),
      field('Teacher', teacher, FW_HELP.teacher),
      field('Max steps', num('max_steps', { min: 1, step: 1 }), FW_HELP.max_steps),
      field('Batch size', num('batch_size', { min: 1, step: 1 }), FW_HELP.batch_size),
      field('Learning rate', text('learning_rate', { inputmode: 'decimal' }), FW_HELP.learning_rate),
      field('Margin', num('margin', { min: 0, max: 1, step: 0.01 }), FW_HELP.margin),
      field('Alpha', num('alpha', { min: 0, max: 1, step: 0.01, placeholder: 'margin alone' }), FW_HELP.alpha),
      h('div', { class: 'field span2' }, h('div', { class: 'inline' }, tuneBtn,
        h('small', { class: 'help' }, 'One round, as a job: score → keep the traces at the threshold (of the served model ' +
          'above, with the reference above) → retrain from the served model → gate on the held-out questions → ' +
          'promote or keep.')), tuneMsg));
    tuneForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let config;
      try {
        config = Object.assign(referenceConfig(), roundConfig());
        config.model = await modelOf(fw.base);
      } catch (e) {
        return fill(tuneMsg, h('p', { class: 'error-text', 'data-testid': 'fw-error' }, e.message));
      }
      await launch(tuneBtn, tuneMsg, { kind: 'flywheel', config, name: 'flywheel round' }, loadRounds);
    });

    const roundsBox = h('div', { 'data-testid': 'rounds' });
    add(view, h('datalist', { id: 'fw-tasks' }, ['arithmetic', 'countdown', 'gsm8k', 'jsonl:'].map((t) => h('option', { value: t }))),
      section(2, 'Score the traces', scoreForm),
      section(3, 'Fine-tune on these', tuneForm),
      section(4, 'Rounds', roundsBox));
    renderRounds();

    function parseJson(value, label) {
      let v;
      try {
        v = JSON.parse(value.trim() || '{}');
      } catch (e) {
        throw new Error(`${label}: not JSON (${e.message}); write an object such as {"ops": 1}`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${label}: a JSON object such as {"ops": 1}`);
      return v;
    }

    function number(value, label, { min, max, int, optional } = {}) {
      if (optional && String(value).trim() === '') return null;
      const n = Number(value);
      if (String(value).trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))
        || (min !== undefined && n < min) || (max !== undefined && n > max)) {
        const range = max !== undefined ? `from ${min} to ${max}` : `at least ${min}`;
        throw new Error(`${label}: ${int ? 'a whole number' : 'a number'} ${range}`);
      }
      return n;
    }

    function positive(value, message) {
      const n = Number(value);
      if (String(value).trim() === '' || !(n > 0) || !Number.isFinite(n)) throw new Error(message);
      return n;
    }

    function referenceConfig() {
      if (!fw.reference.trim()) throw new Error('Reference task: name one, e.g. arithmetic');
      const config = { reference: fw.reference.trim(), reference_options: parseJson(fw.reference_options, 'Reference options'),
        reference_size: number(fw.reference_size, 'Reference questions', { min: 1, int: true }) };
      if (fw.model.trim()) config.trace_model = fw.model.trim();
      return config;
    }

    function roundConfig() {
      if (!fw.held_out.trim()) throw new Error('Held-out task: name one, e.g. arithmetic');
      const alpha = number(fw.alpha, 'Alpha', { min: 0, max: 1, optional: true });
      if (alpha === 0 || alpha === 1) throw new Error('Alpha: strictly between 0 and 1, or empty');
      return {
        held_out: fw.held_out.trim(), held_out_options: parseJson(fw.held_out_options, 'Held-out options'),
        held_out_size: number(fw.held_out_size, 'Held-out questions', { min: 1, int: true }),
        threshold: number(fw.threshold, 'Score threshold', { min: 0, max: 1 }), teacher: fw.teacher,
        sft: { max_steps: number(fw.max_steps, 'Max steps', { min: 1, int: true }),
          batch_size: number(fw.batch_size, 'Batch size', { min: 1, int: true }),
          learning_rate: positive(fw.learning_rate, 'Learning rate: a positive number such as 5e-5') },
        margin: number(fw.margin, 'Margin', { min: 0, max: 1 }), alpha,
      };
    }

    /** The model to send: a trained job's run folder (from the job), a base model's spec or a served path. */
    async function modelOf(choice) {
      const [how, value] = [choice.slice(0, choice.indexOf(':')), choice.slice(choice.indexOf(':') + 1)];
      if (how === 'job') return (await api.get(`api/jobs/${value}`)).run_dir;
      return value;
    }

    /** Create a job, then follow it in `box` (a link to its page, its status) until it ends. */
    async function launch(btn, box, body, onEnd) {
      btn.disabled = true;
      let job;
      try {
        job = await api.post('api/jobs', body);
      } catch (e) {
        fill(box, h('p', { class: 'error-text', 'data-testid': 'fw-error' }, `Not started: ${e.message}`));
        return;
      } finally {
        btn.disabled = false;
      }
      every(ctx, 1000, async () => {
        fill(box, jobLine(job));
        if (TERMINAL.includes(job.status)) {
          onEnd(job);
          return false;
        }
        job = await api.get(`api/jobs/${job.id}`);
        if (!ctx.alive()) return false;
        return true;
      });
    }

    function jobLine(job) {
      const m = job.metrics || {};
      let result = null;
      if (job.kind === 'score' && job.status === 'succeeded') {
        result = `the verifier scored ${fmtNum(m.verifier || 0)} of ${plural(m.traces || 0, 'trace')}` +
          (m.n_problems ? ` (${plural(m.n_problems, 'problem')})` : '') + '.';
      } else if (job.kind === 'flywheel' && job.status === 'succeeded') {
        result = `${m.decision || 'done'}: ${m.why || ''}`;
      } else if (!TERMINAL.includes(job.status)) {
        result = progressText(job);
      }
      return h('p', { class: 'job-line', 'data-job-id': job.id },
        h('a', { href: `#/jobs/${job.id}`, 'data-testid': 'fw-job-link' }, `${job.name} (${job.id})`), ' ', badge(job.status),
        result ? h('span', { class: 'small muted' }, ' ', result) : null,
        job.error ? h('span', { class: 'error-text small' }, ' ', job.error) : null);
    }

    async function loadRounds() {
      try {
        registry = (await api.get('api/flywheel')).registry;
        if (ctx.alive()) renderRounds();
      } catch (e) {
        fill(roundsBox, h('p', { class: 'error-text' }, e.message));
      }
    }

    function renderRounds() {
      const history = registry ? registry.history || [] : [];
      const served = registry ? registry.versions[registry.current] || {} : null;
      fill(roundsBox,
        registry ? h('p', { class: 'served', 'data-testid': 'served-version' }, 'Serving ', h('strong', {}, registry.name), ' = ',
          h('span', { class: 'badge status-succeeded' }, registry.current), ' ', h('span', { class: 'mono small' }, served.model || ''),
          h('span', { class: 'muted small' }, ` · ${plural(Object.keys(registry.versions).length, 'version')}`)) : null,
        history.length ? roundsTable(history)
          : h('p', { class: 'empty', 'data-testid': 'rounds-empty' }, registry
            ? 'No rounds yet: the registry holds only the model served before the first round.'
            : 'No rounds yet. The first “Fine-tune on these” creates the registry: its model is served as v0, ' +
              'and each round adds a version, promoted only when it beats the served one.'));
    }
    await loadTraces();
  }

  function tracesTable(traces) {
    return h('table', { class: 'traces', 'data-testid': 'traces-table' },
      h('caption', { class: 'sr-only' }, 'Served traces, newest first'),
      h('thead', {}, h('tr', {}, ['Question', 'Answer', 'Scores', 'Feedback'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, traces.map((t) => {
        const newest = new Map();
        for (const sc of t.scores || []) newest.set(sc.scorer, sc.score);  // newest last: kept
        return h('tr', { 'data-testid': 'trace-row', 'data-trace-id': t.id },
          h('td', { class: 'q' }, h('div', { 'data-testid': 'trace-question' }, t.question),
            h('div', { class: 'small muted' }, h('span', { class: 'mono' }, t.model), ' · ',
              h('span', { title: fmtTime(t.time) }, fmtAgo(t.time)))),
          h('td', { class: 'a' },
            t.thinking ? h('details', { class: 'thinking', 'data-testid': 'trace-thinking' }, h('summary', {}, 'thinking'),
              h('pre', { class: 'thinking-text' }, t.thinking)) : null,
            h('div', { class: 'answer', 'data-testid': 'trace-answer' }, t.answer || h('span', { class: 'muted' }, '(no answer)'))),
          h('td', { class: 'scores' }, newest.size ? [...newest].map(([name, v]) => h('span', {
            class: `score-chip ${v >= 1 ? 'good' : v <= 0 ? 'bad' : 'mid'}`, 'data-testid': 'trace-score', 'data-scorer': name,
            'data-score': String(v) }, `${name} ${fmtNum(v)}`)) : h('span', { class: 'muted small' }, 'not scored')),
          h('td', { 'data-testid': 'trace-feedback' }, fmtNum(t.feedback || 0)));
      })));
  }

  function roundsTable(history) {
    return h('table', { class: 'rounds', 'data-testid': 'rounds-table' },
      h('caption', { class: 'sr-only' }, 'Flywheel rounds, oldest first'),
      h('thead', {}, h('tr', {}, ['Round', 'Data version', 'Model', 'Accuracy before → after', 'p', 'Decision', 'Why']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, history.map((r) => {
        const m = r.metrics || {};
        const decision = r.decision || '–';
        const cls = decision === 'promoted' ? 'status-succeeded' : decision === 'rollback' ? 'status-cancelled' : '';
        return h('tr', { 'data-testid': 'round-row', 'data-decision': decision },
          h('td', {}, r.round === null || r.round === undefined ? '–' : r.round),
          h('td', { class: 'mono small' }, r.data_version || '–'),
          h('td', {}, decision === 'rollback' ? h('span', { class: 'mono small' }, `${r.previous} → ${r.current}`)
            : [h('strong', {}, r.version || '–'), r.model ? h('div', { class: 'mono small muted path', title: r.model }, r.model) : null]),
          h('td', {}, typeof m.old_accuracy === 'number'
            ? [`${pct(m.old_accuracy)} → ${pct(m.new_accuracy)}`, h('div', { class: 'small muted' },
              `${m.gain >= 0 ? '+' : ''}${pct(m.gain)} on ${plural(m.held_out, 'question')}`)] : '–'),
          h('td', {}, fmtNum(m.p_value)),
          h('td', {}, h('span', { class: `badge ${cls}`, 'data-testid': 'round-decision' }, decision)),
          h('td', { class: 'small muted why' }, r.why || '–'));
      })));
  }

  // ============================================================================ page: playground
  const pg = { mode: 'single', a: '', b: '', think: {}, budget: '32', maxTokens: '128', temperature: '0.7', prefill: true, history: [] };

  async function pagePlayground(view, ctx, params) {
    document.title = 'Playground · thinktune studio';
    const models = await api.get('api/models');
    if (!ctx.alive()) return;
    const info = new Map();
    for (const m of models.trained) info.set(m.id, { reasoning: m.job !== 'non_reasoning', label: `${m.name} (${m.id})`, m });
    for (const b of models.base) info.set(b, { reasoning: true, label: `${b} (base model)` });
    const wanted = params.get('model');
    if (wanted && info.has(wanted)) pg.a = wanted;
    if (!info.has(pg.a)) pg.a = models.trained.length ? models.trained[models.trained.length - 1].id : 'tiny';
    if (!info.has(pg.b)) pg.b = models.trained.find((m) => m.id !== pg.a) ? models.trained.find((m) => m.id !== pg.a).id : 'tiny';

    const modelSelect = (key, testid, label) => {
      const sel = h('select', { id: `pg-${key}`, 'data-testid': testid },
        models.trained.length ? h('optgroup', { label: 'Trained in the studio' }, models.trained.map((m) => h('option', { value: m.id, selected: pg[key] === m.id },
          `${m.name} — ${typeLabel(m.job)}, ${m.model} (${m.id})`))) : null,
        h('optgroup', { label: 'Base models' }, models.base.map((b) => h('option', { value: b, selected: pg[key] === b }, b))));
      const think = h('input', { type: 'checkbox', id: `pg-think-${key}`, 'data-testid': `pg-think-${key}` });
      const syncThink = () => {
        think.checked = pg.think[key] !== undefined ? pg.think[key] : Boolean(info.get(pg[key]) && info.get(pg[key]).reasoning);
      };
      syncThink();
      think.addEventListener('change', () => { pg.think[key] = think.checked; });
      sel.addEventListener('change', () => {
        pg[key] = sel.value;
        delete pg.think[key];
        syncThink();
      });
      const f = field(label, sel, null);
      add(f, h('label', { class: 'check small', for: think.id }, think, ' think first (off: ask for a direct answer)'));
      return f;
    };
    const modeSingle = h('input', { type: 'radio', name: 'pg-mode', id: 'pg-mode-single', value: 'single', checked: pg.mode === 'single', 'data-testid': 'pg-mode-single' });
    const modeSide = h('input', { type: 'radio', name: 'pg-mode', id: 'pg-mode-side', value: 'side', checked: pg.mode === 'side', 'data-testid': 'pg-mode-side' });
    const bField = modelSelect('b', 'pg-model-b', 'Model B');
    const bThink = bField.querySelector('input[type=checkbox]');
    const syncMode = () => {
      pg.mode = modeSide.checked ? 'side' : 'single';
      bField.hidden = pg.mode !== 'side';
      bField.querySelector('select').disabled = pg.mode !== 'side';
      bThink.disabled = pg.mode !== 'side';
    };
    modeSingle.addEventListener('change', syncMode);
    modeSide.addEventListener('change', syncMode);
    const input = (key, attrs, testid) => {
      const el = h('input', Object.assign({ id: `pg-${key}`, value: pg[key], 'data-testid': testid }, attrs));
      el.addEventListener('input', () => { pg[key] = el.value; });
      return el;
    };
    const budget = input('budget', { type: 'number', min: 0, step: 1, placeholder: 'no cap' }, 'pg-budget');
    const maxTokens = input('maxTokens', { type: 'number', min: 1, max: 2048, step: 1 }, 'pg-max-tokens');
    const temperature = input('temperature', { type: 'number', min: 0, max: 2, step: 0.1 }, 'pg-temperature');
    const prefill = h('input', { type: 'checkbox', id: 'pg-prefill', checked: pg.prefill, 'data-testid': 'pg-prefill' });
    prefill.addEventListener('change', () => { pg.prefill = prefill.checked; });
    const prompt = h('textarea', { id: 'pg-prompt', rows: 2, 'data-testid': 'pg-prompt', placeholder: 'Ask something, e.g. What is 17 + 25?' });
    const send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'pg-send' }, 'Send');
    const out = h('div', { class: 'exchanges', 'data-testid': 'pg-output', 'aria-live': 'polite' });

    const form = h('form', { class: 'pg-layout' },
      h('aside', { class: 'card pg-settings', 'aria-label': 'Settings' },
        h('fieldset', { class: 'field' }, h('legend', {}, 'Mode'), h('div', { class: 'inline' },
          h('label', { class: 'radio' }, modeSingle, ' One model'), h('label', { class: 'radio' }, modeSide, ' Side by side'))),
        modelSelect('a', 'pg-model-a', 'Model'), bField,
        h('div', { class: 'pg-numbers' },
          field('Thinking budget', budget, null), field('Max tokens', maxTokens, null), field('Temperature', temperature, null)),
        h('small', { class: 'help' }, 'Thinking budget: most tokens of thinking (thinking_token_budget), then </think> is forced ' +
          'and the answer follows; empty: no cap. Max tokens counts thinking and answer together. Temperature 0 is greedy.'),
        h('div', { class: 'field' }, h('label', { class: 'check', for: 'pg-prefill' }, prefill, ' Start the reply inside <think>'),
          h('small', { class: 'help' }, 'When thinking: the reply opens with <think> (sent as a continuation), so a model that would ' +
            'not open it itself still thinks. Everything after it is the model\'s own text.'))),
      h('div', { class: 'pg-main' },
        h('div', { class: 'card pg-ask' }, field('Prompt', prompt, null),
          h('div', { class: 'inline' }, send, h('button', { type: 'button', class: 'quiet', onclick: () => { pg.history = []; fill(out); } }, 'Clear'),
            h('small', { class: 'help' }, 'Ctrl+Enter sends. The first message to a model loads it (a few seconds).'))),
        out));
    syncMode();
    prompt.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = prompt.value.trim();
      if (!text) {
        prompt.focus();
        return;
      }
      const keys = pg.mode === 'side' ? ['a', 'b'] : ['a'];
      const exchange = { prompt: text, replies: keys.map((k) => ({ model: pg[k], label: info.get(pg[k]) ? info.get(pg[k]).label : pg[k],
        state: 'waiting', thinking: '', answer: '', reasoningOn: form.querySelector(`#pg-think-${k}`).checked })) };
      pg.history.unshift(exchange);
      const el = renderExchange(exchange);
      out.prepend(el);
      exchange.replies.forEach((r, i) => ask(r, text, () => {
        const panel = el.querySelectorAll('[data-testid="reply"]')[i];
        if (panel) panel.replaceWith(replyPanel(r));
      }));
    });
    add(view, h('h1', {}, 'Playground'),
      h('p', { class: 'lead' }, 'Ask a trained model through the studio\'s OpenAI-compatible endpoint (serve/v1): ' +
        'its thinking and its answer apart, with token counts and latency.'),
      form);
    for (const ex of pg.history) add(out, renderExchange(ex));
  }

  function renderExchange(ex) {
    return h('article', { class: 'exchange', 'data-testid': 'exchange' },
      h('p', { class: 'you' }, h('strong', {}, 'You: '), ex.prompt),
      h('div', { class: ex.replies.length > 1 ? 'replies side' : 'replies' }, ex.replies.map(replyPanel)));
  }

  function replyPanel(r) {
    const panel = h('div', { class: `reply state-${r.state}`, 'data-testid': 'reply', 'data-model': r.model, 'data-state': r.state });
    const stats = [];
    if (r.usage) {
      const rt = (r.usage.completion_tokens_details || {}).reasoning_tokens || 0;
      stats.push(`${fmtNum(r.usage.completion_tokens)} tokens`, `${fmtNum(rt)} thinking`, `${fmtNum(r.usage.completion_tokens - rt)} answer`);
    }
    if (r.latency !== undefined) stats.push(`${r.latency.toFixed(2)} s`);
    if (r.firstToken !== undefined) stats.push(`first token ${r.firstToken.toFixed(2)} s`);
    add(panel, h('header', {}, h('span', {}, h('strong', {}, r.label), ' ',
      h('span', { class: `lean lean-${r.reasoningOn ? 'reasoning' : 'non_reasoning'}` }, r.reasoningOn ? 'thinking on' : 'thinking off')),
    h('span', { class: 'small muted', 'data-testid': 'reply-stats' }, stats.join(' · '))));
    if (r.state === 'error') {
      add(panel, h('p', { class: 'error-text', 'data-testid': 'reply-error' }, r.error));
      return panel;
    }
    if (r.state === 'waiting') {
      add(panel, h('p', { class: 'muted' }, 'Waiting for the model (loading it the first time)…'));
      return panel;
    }
    const done = r.state === 'done';
    const rt = r.usage ? (r.usage.completion_tokens_details || {}).reasoning_tokens : null;
    if (r.thinking || rt) {  // thinking tokens that decode to no visible text are still counted, not hidden
      const summary = done
        ? `thought for ${fmtNum(rt ?? r.thinkingDeltas)} tokens, ${(r.thinkSeconds || 0).toFixed(1)} s`
        : `thinking… ${fmtNum(r.thinkingDeltas)} tokens`;
      add(panel, h('details', { class: 'thinking', 'data-testid': 'thinking' }, h('summary', { 'data-testid': 'thinking-summary' }, summary),
        r.thinking.trim() ? h('pre', { class: 'thinking-text' }, r.thinking)
          : h('p', { class: 'muted small' }, '(the thinking tokens decode to no visible text)')));
    } else if (done) {
      add(panel, h('p', { class: 'no-thinking', 'data-testid': 'no-thinking' }, '(no thinking)'));
    }
    add(panel, h('div', { class: 'answer', 'data-testid': 'answer' }, r.answer || (done ? h('span', { class: 'muted' }, '(empty answer)') : '…')));
    if (done && r.finish) add(panel, h('p', { class: 'small muted' }, `finish: ${r.finish}`));
    return panel;
  }

  /** One streamed chat completion into reply `r`; `redraw` is called as it changes. */
  async function ask(r, text, redraw) {
    const messages = [{ role: 'user', content: text }];
    const body = { model: r.model, messages, stream: true, stream_options: { include_usage: true },
      max_tokens: Number(pg.maxTokens) || 128, temperature: pg.temperature === '' ? 0.7 : Number(pg.temperature) };
    if (r.reasoningOn) {
      if (pg.budget !== '' && Number(pg.budget) >= 0) body.thinking_token_budget = Math.trunc(Number(pg.budget));
      if (pg.prefill) messages.push({ role: 'assistant', content: '<think>\n' });
    } else {
      body.chat_template_kwargs = { enable_thinking: false };
    }
    const t0 = performance.now();
    let thinkStart = null, thinkEnd = null;
    r.thinkingDeltas = 0;
    let last = 0;
    const throttled = () => {
      const now = performance.now();
      if (now - last > 80) {
        last = now;
        redraw();
      }
    };
    try {
      const resp = await fetch('serve/v1/chat/completions', { method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json' }), body: JSON.stringify(body) });
      if (!resp.ok) throw await errorOf(resp);
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      const handle = (data) => {
        if (data === '[DONE]') return;
        const ev = JSON.parse(data);
        if (ev.error) throw new Error(ev.error.message);
        if (ev.usage) r.usage = ev.usage;
        for (const c of ev.choices || []) {
          const d = c.delta || {};
          const now = performance.now();
          if (d.reasoning_content) {
            if (thinkStart === null) thinkStart = now;
            thinkEnd = now;
            r.thinking += d.reasoning_content;
            r.thinkingDeltas += 1;
          }
          if (d.content) {
            if (thinkStart !== null && thinkEnd !== null && !r.answer) thinkEnd = now;
            r.answer += d.content;
          }
          if ((d.reasoning_content || d.content) && r.firstToken === undefined) r.firstToken = (now - t0) / 1000;
          if (c.finish_reason) r.finish = c.finish_reason;
        }
        if (r.state === 'waiting') r.state = 'streaming';
      };
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of chunk.split('\n')) if (line.startsWith('data: ')) handle(line.slice(6));
        }
        throttled();
      }
      r.latency = (performance.now() - t0) / 1000;
      r.thinkSeconds = thinkStart === null ? 0 : (thinkEnd - thinkStart) / 1000;
      r.state = 'done';
    } catch (e) {
      r.state = 'error';
      r.error = e.message;
    }
    redraw();
  }

  // --------------------------------------------------------------------------------------------- start
  window.addEventListener('hashchange', route);
  document.addEventListener('DOMContentLoaded', () => {
    const skip = document.querySelector('.skip');
    if (skip) skip.addEventListener('click', (ev) => { ev.preventDefault(); document.getElementById('main').focus(); });
    route();
  });
})();
