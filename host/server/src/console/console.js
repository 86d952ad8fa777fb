// Cachet's web console: plain DOM code, no framework, nothing from elsewhere. Everything is
// built with textContent and createElement (never innerHTML), so no key, log line or error
// message from an action can inject markup. The API token lives in sessionStorage: this tab
// only, gone when it closes.
'use strict';

const TOKEN_KEY = 'cachet-console-token';
const $ = (id) => document.getElementById(id);

let overview = null;
let shownPartition = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (response.status === 401) {
    signOut('The service refused the token. Enter a valid one.');
    throw new ApiError(401, 'unauthorized');
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error?.message ?? `HTTP ${response.status}`);
  }
  return json;
}

function show(section) {
  for (const id of ['login', 'overview', 'partition', 'test']) $(id).hidden = id !== section;
  $('nav').hidden = section === 'login';
  $('tab-overview').toggleAttribute('aria-current', section === 'overview' || section === 'partition');
  $('tab-test').toggleAttribute('aria-current', section === 'test');
  if ($('tab-overview').hasAttribute('aria-current')) $('tab-overview').setAttribute('aria-current', 'page');
  if ($('tab-test').hasAttribute('aria-current')) $('tab-test').setAttribute('aria-current', 'page');
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('login-error').textContent = message ?? '';
  $('login-error').hidden = !message;
  show('login');
  $('token').focus();
}

function bytes(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}

function lifetime(ms) {
  if (ms <= 0) return 'expired';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A meter against a quota, coloured by the browser as it nears it (low/high thresholds). */
function quotaMeter(label, value, max, unit) {
  const id = `m-${Math.random().toString(36).slice(2)}`;
  const meter = el('meter', { id, min: '0', max: String(max), low: String(Math.floor(max * 0.7)), high: String(Math.floor(max * 0.9)), optimum: '0', value: String(value) });
  return [el('label', { for: id }, label), meter, el('span', { class: 'mono' }, `${value} / ${max} ${unit}`)];
}

/** Executions (blue) and failures (red) per minute, oldest first, as a small bar chart. */
function sparkline(recent) {
  const ns = 'http://www.w3.org/2000/svg';
  const max = Math.max(1, ...recent.map(([e]) => e));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', String(recent.length * 8));
  svg.setAttribute('height', '22');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `executions per minute, oldest first: ${recent.map(([e, f]) => `${e} (${f} failed)`).join(', ')}`);
  recent.forEach(([e, f], i) => {
    for (const [count, cls] of [[e, 'e'], [f, 'f']]) {
      if (!count) continue;
      const h = Math.max(2, Math.round((count / max) * 20));
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(i * 8));
      r.setAttribute('y', String(22 - h));
      r.setAttribute('width', '6');
      r.setAttribute('height', String(h));
      r.setAttribute('class', cls);
      svg.append(r);
    }
  });
  return svg;
}

async function loadOverview() {
  overview = await api('GET', '/v1/console/overview');
  const { limits, egress } = overview;
  $('summary').textContent =
    `${overview.partitions.length} flow(s). Token requests made by actions since start-up: ${egress.token_requests} ` +
    `(of ${egress.requests} outbound requests). Quotas per partition: ${limits.max_entries} entries, ` +
    `${limits.max_total_bytes} bytes; a full cache ${overview.policy === 'strict' ? 'refuses writes' : 'evicts the least recently used entries'}.`;
  const list = $('partitions');
  list.replaceChildren();
  for (const p of overview.partitions) {
    const name = `${p.tenant} / ${p.trigger}`;
    const quota = el('div', { class: 'quota' });
    if (p.usage) {
      quota.append(...quotaMeter('Entries', p.usage.entries, limits.max_entries, ''), ...quotaMeter('Bytes', p.usage.bytes, limits.max_total_bytes, 'B'));
    } else {
      quota.append(el('span', { class: 'error' }, 'The store did not answer (see the service log).'));
    }
    const rows = p.actions.map((a) =>
      el('tr', {},
        el('td', {}, a.name),
        el('td', {}, el('span', { class: 'tag' }, a.language)),
        el('td', {}, el('span', { class: 'tag' }, a.instance)),
        el('td', { class: 'num' }, bytes(a.component_bytes)),
        el('td', { class: 'num' }, String(a.executions)),
        el('td', { class: a.failures ? 'num error' : 'num' }, String(a.failures)),
        el('td', {}, sparkline(a.recent))));
    const table = el('table', {},
      el('caption', {}, `Actions, in flow order; executions and failures since start-up, and per minute over the last ${overview.minutes} minutes`),
      el('thead', {}, el('tr', {}, ...['Action', 'Language', 'Instances', 'Component', 'Executions', 'Failures', 'Last minutes'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows));
    const open = el('button', { type: 'button', class: 'open-partition', 'data-tenant': p.tenant, 'data-trigger': p.trigger, onclick: () => openPartition(p.tenant, p.trigger) }, 'Entries…');
    list.append(el('article', { class: 'card partition', 'data-partition': name, 'aria-label': name }, el('h3', {}, name, open), quota, table));
  }
  fillTestPartitions();
}

async function openPartition(tenant, trigger) {
  shownPartition = { tenant, trigger };
  const report = await api('GET', `/v1/tenants/${encodeURIComponent(tenant)}/triggers/${trigger}/cache`);
  $('partition-title').textContent = `Partition ${tenant} / ${trigger}`;
  renderUsage($('partition-usage'), report);
  const body = $('entries').tBodies[0];
  body.replaceChildren(...report.entries_lru_first.map((e, i) => {
    const del = el('button', { type: 'button', class: 'delete-entry danger', 'aria-label': `Delete entry ${e.key}`, onclick: () => deleteEntry(e.key) }, 'Delete');
    return el('tr', {},
      el('td', { class: 'num' }, String(i + 1)),
      el('td', { class: 'mono' }, e.key),
      el('td', { class: 'num' }, `${e.bytes} B`),
      el('td', {}, lifetime(e.expires_in_ms)),
      el('td', { class: 'mono muted' }, `${e.value.length} B, sha256 ${e.value.sha256_prefix}…`),
      el('td', {}, del));
  }));
  if (!report.entries_lru_first.length) body.append(el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'No live entries.')));
  show('partition');
}

function renderUsage(node, report) {
  const u = report.usage;
  node.textContent = `${u.entries} of ${u.max_entries} entries, ${u.bytes} of ${u.max_bytes} bytes.`;
}

function confirmAction(text) {
  return new Promise((resolve) => {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.showModal();
    $('confirm-no').focus();
  });
}

async function deleteEntry(key) {
  if (!(await confirmAction(`Delete the entry "${key}" from ${shownPartition.tenant} / ${shownPartition.trigger}?`))) return;
  await api('DELETE', `/v1/tenants/${encodeURIComponent(shownPartition.tenant)}/triggers/${shownPartition.trigger}/cache/${encodeURIComponent(key)}`);
  await openPartition(shownPartition.tenant, shownPartition.trigger);
}

async function purge() {
  const { tenant, trigger } = shownPartition;
  if (!(await confirmAction(`Purge every entry of ${tenant} / ${trigger}? Actions will fetch what they cached again.`))) return;
  await api('DELETE', `/v1/tenants/${encodeURIComponent(tenant)}/triggers/${trigger}/cache`);
  await openPartition(tenant, trigger);
}

function fillTestPartitions() {
  const select = $('test-partition');
  const before = select.value;
  select.replaceChildren(...overview.partitions.map((p) => el('option', { value: `${p.tenant}\n${p.trigger}` }, `${p.tenant} / ${p.trigger}`)));
  if (before && [...select.options].some((o) => o.value === before)) select.value = before;
  if (!$('test-event').value.trim()) sampleEvent();
}

/** The realistic Auth0-shaped event of the chosen partition's trigger (from the overview). */
function sampleEvent() {
  const trigger = $('test-partition').value.split('\n')[1];
  const known = overview?.triggers ?? [];
  const found = known.find((t) => t.name === trigger) ?? known[0];
  $('test-event').value = JSON.stringify(found?.default_event ?? {}, null, 2);
}

function entriesTable(report, other, side) {
  const keys = new Map((other?.entries_lru_first ?? []).map((e) => [e.key, e]));
  const rows = report.entries_lru_first.map((e) => {
    const peer = keys.get(e.key);
    let cls = '';
    let note = '';
    if (!peer) {
      cls = side === 'after' ? 'added' : 'removed';
      note = side === 'after' ? 'written' : 'gone (deleted, evicted or expired)';
    } else if (peer.value.sha256_prefix !== e.value.sha256_prefix || peer.expires_at !== e.expires_at) {
      cls = 'changed';
      note = side === 'after' ? 'rewritten' : '';
    }
    return el('tr', { class: cls }, el('td', { class: 'mono' }, e.key), el('td', { class: 'num' }, `${e.bytes} B`), el('td', {}, lifetime(e.expires_in_ms)), el('td', { class: 'muted' }, note));
  });
  const u = report.usage;
  return el('table', {},
    el('caption', {}, `${u.entries}/${u.max_entries} entries, ${u.bytes}/${u.max_bytes} bytes`),
    el('thead', {}, el('tr', {}, ...['Key', 'Size', 'Expires in', ''].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'empty'))])));
}

async function runTest(event) {
  event.preventDefault();
  $('test-error').hidden = true;
  let parsed;
  let secrets = {};
  try {
    parsed = JSON.parse($('test-event').value);
  } catch (err) {
    return testError(`The event is not valid JSON: ${err.message}`);
  }
  if ($('test-secrets').value.trim()) {
    try {
      secrets = JSON.parse($('test-secrets').value);
    } catch (err) {
      return testError(`The secrets are not valid JSON: ${err.message}`);
    }
  }
  const [tenant, trigger] = $('test-partition').value.split('\n');
  const offset = Number($('test-clock-offset').value || 0);
  const dryRun = $('test-dry-run').checked;
  if (offset > 0 && !dryRun) return testError('A clock offset needs a dry run (the live cache keeps real time).');
  await postTest(tenant, trigger, { event: parsed, secrets, dry_run: dryRun, clock_offset_secs: offset });
}

/** Sends one test run (or a continuation) and shows its answer. */
async function postTest(tenant, trigger, body) {
  $('test-run').disabled = true;
  $('test-continue').disabled = true;
  try {
    const r = await api('POST', `/v1/tenants/${encodeURIComponent(tenant)}/triggers/${trigger}/test`, body);
    renderTest(r, tenant, trigger);
  } catch (err) {
    if (err.status !== 401) testError(err.message);
  } finally {
    $('test-run').disabled = false;
    $('test-continue').disabled = false;
  }
}

/** Continues the redirect the last run made, with the query parameters in the form. */
async function continueTest() {
  $('test-error').hidden = true;
  const pending = $('test-redirect').dataset;
  let query;
  try {
    query = JSON.parse($('test-continue-query').value || '{}');
  } catch (err) {
    return testError(`The query parameters are not valid JSON: ${err.message}`);
  }
  await postTest(pending.tenant, pending.trigger, { continue: { state: pending.state, query }, dry_run: false });
}

function testError(message) {
  $('test-error').textContent = message;
  $('test-error').hidden = false;
}

function renderTest(r, tenant, trigger) {
  const result = r.result;
  const redirect = result.redirect;
  $('test-redirect').hidden = !redirect;
  if (redirect) {
    $('test-redirect-url').textContent = redirect.url;
    Object.assign($('test-redirect').dataset, { state: redirect.state, tenant, trigger });
    $('test-continue').hidden = r.dry_run;
    $('test-redirect-note').textContent = r.dry_run
      ? "A dry run's redirect cannot be continued (its scratch cache is gone): run live to continue it."
      : 'Continue as if the user came back with these query parameters:';
  }
  $('test-outcome').textContent = result.outcome;
  $('test-outcome').className = `outcome-${result.outcome}`;
  $('test-duration').textContent = `in ${(result.duration_us / 1000).toFixed(2)} ms${r.dry_run ? ' (dry run' + (r.clock_offset_secs ? `, ${r.clock_offset_secs} s later` : '') + ')' : ' (live cache)'}`;
  $('test-commands').textContent = result.commands.length ? JSON.stringify(result.commands, null, 2) : '(none)';
  $('test-actions').replaceChildren(...result.actions.map((a) =>
    el('div', { class: 'card action-result', 'data-action': a.name },
      el('h3', {}, a.name, el('span', { class: `outcome-${a.outcome}` }, a.outcome), el('span', { class: 'muted' }, `${(a.duration_us / 1000).toFixed(2)} ms, ${a.cache_writes} cache write(s)`)),
      a.error ? el('p', { class: 'error action-error' }, `${a.error.kind}: ${a.error.message}`) : null,
      el('pre', { class: 'action-logs' }, a.logs || '(no log)'))));
  $('test-refused').textContent = r.refused.length
    ? `Refused: ${r.refused.map((x) => `${x.op} ${x.code}${x.count > 1 ? ` x${x.count}` : ''}`).join(', ')}.`
    : 'No cache operation was refused.';
  $('test-before').replaceChildren(entriesTable(r.before, r.after, 'before'));
  $('test-after').replaceChildren(entriesTable(r.after, r.before, 'after'));
  $('test-result').hidden = false;
}

async function enter() {
  try {
    await loadOverview();
    show('overview');
  } catch (err) {
    if (err.status !== 401) signOut(`The console could not load: ${err.message}`);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    enter();
  });
  $('tab-overview').addEventListener('click', () => enter());
  $('tab-test').addEventListener('click', () => show('test'));
  $('refresh').addEventListener('click', () => enter());
  $('logout').addEventListener('click', () => signOut());
  $('back').addEventListener('click', () => enter());
  $('purge').addEventListener('click', () => purge().catch((err) => alert(err.message)));
  $('test-partition').addEventListener('change', sampleEvent);
  $('test-form').addEventListener('submit', runTest);
  $('test-continue').addEventListener('click', continueTest);
  $('test-clock-offset').addEventListener('input', () => {
    if (Number($('test-clock-offset').value) > 0) $('test-dry-run').checked = true;
  });
  if (token()) enter();
  else show('login');
});
