// touchline's web UI: each page reads its parameters from the URL's hash
// (#/page?name=value&...), asks the JSON API (/api/<analysis>, the
// parameters of `touchline query <analysis>`) and draws tables and Apache
// ECharts charts from the answers. Text from the data is only ever set as
// textContent, never as HTML. In a report of `touchline report --html`,
// the same pages read the answers from the file itself (REPORT) and are
// shown one after the other.
'use strict';

// REPORT is the data of a report file: its sections (page and parameters)
// and the API's answers its pages read; null in the served app.
const REPORT = window.TOUCHLINE_REPORT || null;

// MODELS are the attribution models the pages compare: the six rule-based
// ones and the two data-driven ones, which Go computes from the paths.
const MODELS = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'position_based', 'time_decay', 'markov', 'shapley'];
const BREAKDOWNS = ['', 'channel', 'campaign', 'utm_source', 'utm_medium', 'utm_campaign', 'device_type', 'os', 'country', 'referrer'];

// ---- formatting: what the tables show -------------------------------------

const fmt = {
  int: v => v == null ? '—' : Math.round(v).toLocaleString('en-US'),
  num2: v => v == null ? '—' : v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  pct: v => v == null ? '—' : (v * 100).toFixed(1) + '%',
  text: v => v == null ? '—' : String(v),
  // A duration in seconds: 45.2s, 2m 49s, 3h 05m, 2d 04h.
  dur: v => {
    if (v == null) return '—';
    if (v < 60) return v.toFixed(1) + 's';
    const s = Math.round(v);
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    const m = Math.round(v / 60);
    if (m < 1440) return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    const h = Math.round(v / 3600);
    return Math.floor(h / 24) + 'd ' + String(h % 24).padStart(2, '0') + 'h';
  },
};

// ---- DOM helpers ------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'onclick' || k === 'onsubmit' || k === 'onchange') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function field(label, input) { return el('label', {}, label, input); }

function textInput(name, value, attrs) { return el('input', Object.assign({ type: 'text', name, value: value || '' }, attrs)); }

function select(name, options, value) {
  const s = el('select', { name });
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o || '(none)'];
    s.append(el('option', { value: v, selected: v === value, text: label }));
  }
  return s;
}

function checkbox(name, label, checked) {
  return el('label', { class: 'check' }, el('input', { type: 'checkbox', name, checked: checked === 'true' }), label);
}

// ---- routing ------------------------------------------------------------------

function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [page, query] = h.split('?');
  return { page: PAGES[page] ? page : 'overview', params: new URLSearchParams(query || '') };
}

function go(page, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) q.set(k, v);
  const hash = '#/' + page + (q.toString() ? '?' + q : '');
  if (location.hash === hash) render(); else location.hash = hash;
}

// formParams returns a form's fields as parameters: checkboxes as true or
// nothing, other fields as their values.
function formParams(form) {
  const out = {};
  for (const e of form.elements) {
    if (!e.name) continue;
    if (e.type === 'checkbox') { if (e.checked) out[e.name] = 'true'; } else out[e.name] = e.value.trim();
  }
  return out;
}

// ---- the API --------------------------------------------------------------------

function apiURL(analysis, params, extra) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(Object.assign({}, params, extra))) if (v !== '' && v != null) q.set(k, v);
  return 'api/' + analysis + (q.toString() ? '?' + q : '');
}

// given returns the parameters that are not empty.
function given(params) {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '' && v != null));
}

// reportAnswer returns the report's answer of an analysis (the index for
// '') for params.
function reportAnswer(analysis, params) {
  const want = given(params);
  const same = q => Object.keys(q.params).length === Object.keys(want).length && Object.entries(want).every(([k, v]) => q.params[k] === v);
  const answer = REPORT.queries.find(q => q.analysis === analysis && same(q));
  if (!answer) throw new Error('the report has no answer of ' + apiURL(analysis, params));
  return answer;
}

async function api(analysis, params) {
  if (REPORT) return reportAnswer(analysis, params).rows;
  const r = await fetch(apiURL(analysis, params), { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
  return body;
}

// ---- page frame: form, results, SQL view, downloads -----------------------------------

// A query is one API call of a page: a title, the analysis and its parameters.
function query(title, analysis, params) { return { title, analysis, params }; }

// tools returns the downloads of the queries and the SQL view, which loads
// the exact SQL of each query when opened (of each but those with sql: false).
// In a report, the downloads and the SQL come from the file.
function tools(queries) {
  const links = el('div', { class: 'tools' }, el('span', { class: 'muted', text: 'Download:' }));
  const data = (type, text) => 'data:' + type + ';charset=utf-8,' + encodeURIComponent(text);
  for (const q of queries) {
    const answer = REPORT && reportAnswer(q.analysis, q.params);
    links.append(el('span', { text: q.title + ' ' }),
      el('a', { href: answer ? data('text/csv', answer.csv) : apiURL(q.analysis, q.params, { format: 'csv' }), download: 'touchline-' + q.analysis + '.csv', text: 'CSV' }),
      el('a', { href: answer ? data('application/json', JSON.stringify(answer.rows)) : apiURL(q.analysis, q.params), download: 'touchline-' + q.analysis + '.json', text: 'JSON' }));
  }
  const withSQL = queries.filter(q => q.sql !== false);
  const pre = el('div', {});
  const sql = el('details', { class: 'sql', id: REPORT ? null : 'sql' }, el('summary', { text: 'SQL: the exact queries of this page (as touchline query --sql prints them)' }), pre);
  if (REPORT) {
    for (const q of withSQL) pre.append(el('h2', { text: q.title }), el('pre', { 'data-query': q.title, text: reportAnswer(q.analysis, q.params).sql + ';\n' }));
    return el('div', {}, links, sql);
  }
  sql.addEventListener('toggle', async () => {
    if (!sql.open || pre.dataset.loaded) return;
    pre.dataset.loaded = '1';
    for (const q of withSQL) {
      const r = await fetch(apiURL(q.analysis, q.params, { sql: '1' }));
      pre.append(el('h2', { text: q.title }), el('pre', { 'data-query': q.title, text: await r.text() }));
    }
  });
  return el('div', {}, links, sql);
}

// table renders rows (objects) as a table with the given columns:
// [key, header, formatter, link]; link, when given, makes the cell's text a
// link to link(row). Each cell carries data-col, each row data-row.
function table(id, rows, columns) {
  const head = el('tr', {}, ...columns.map(([k, h, f]) => el('th', { class: f === fmt.text ? 'text' : null, text: h })));
  const cell = (r, k, f, link) => link ? el('a', { href: link(r), text: f(r[k]) }) : f(r[k]);
  const body = rows.map((r, i) => el('tr', { 'data-row': i },
    ...columns.map(([k, , f, link]) => el('td', { class: f === fmt.text ? 'text' : null, 'data-col': k }, cell(r, k, f, link)))));
  return el('div', { class: 'scroll' }, el('table', { id, 'data-table': id }, el('thead', {}, head), el('tbody', {}, ...body)));
}

function chart(id, option) {
  const div = el('div', { class: 'chart', id, 'data-chart': id });
  // Drawn once in the document, so that ECharts knows its size.
  requestAnimationFrame(() => {
    const c = echarts.init(div, null, { renderer: 'canvas' });
    c.setOption(Object.assign({ animation: false, color: PALETTE, tooltip: { trigger: 'axis' }, legend: { type: 'scroll', top: 0 }, grid: { top: 40, left: 60, right: 30, bottom: 50 } }, option));
    charts.push(c);
  });
  return div;
}

let charts = [];

// PALETTE has 20 distinct colours, so that the channels of a chart (touchline
// knows 15 and more) do not share one, as they would in ECharts' default 9.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f77b4', '#aec7e8', '#ff7f0e', '#98df8a', '#d62728', '#9467bd', '#c5b0d5', '#8c564b', '#e377c2', '#17becf'];
window.addEventListener('resize', () => charts.forEach(c => c.resize()));

function uniq(values) { return [...new Set(values)]; }

function rangeFields(p) {
  return [field('From (UTC, inclusive)', el('input', { type: 'date', name: 'from', value: p.get('from') || '' })),
    field('To (UTC, exclusive)', el('input', { type: 'date', name: 'to', value: p.get('to') || '' }))];
}

function rangeParams(p) { return { from: p.get('from') || '', to: p.get('to') || '' }; }

// currencyDefault returns the reporting currency of analysis when the page
// names none: reporting_currency of attribution.yaml, as the API's index
// reports it ('' for none).
async function currencyDefault(analysis) {
  const index = await api('', {});
  const param = index.analyses.find(a => a.name === analysis).parameters.find(x => x.name === 'currency');
  return param ? param.default : '';
}

// currencyField renders the reporting currency input, whose placeholder
// names the default.
function currencyField(value, dflt) {
  return field('Reporting currency', textInput('currency', value, { placeholder: dflt ? 'default: ' + dflt : 'none: amounts as stored (one currency)' }));
}

// inCurrency is the suffix of a money title: ', in USD', or '' without a
// reporting currency.
function inCurrency(currency) { return currency ? ', in ' + currency : ''; }

// ---- Overview -----------------------------------------------------------------------

const METRICS = [['revenue', 'Revenue'], ['spend', 'Spend'], ['touchpoints', 'Touchpoints'], ['purchases', 'Purchases'], ['persons', 'Persons']];

async function overview(p, out) {
  const params = Object.assign(rangeParams(p), { channel: p.get('channel') || '', campaign: p.get('campaign') || '', currency: p.get('currency') || '' });
  const metric = p.get('metric') || 'revenue';
  const dflt = await currencyDefault('overview');
  const currency = params.currency || dflt;
  out.append(form('overview', [...rangeFields(p),
    field('Channel', textInput('channel', params.channel, { placeholder: 'all' })),
    field('Campaign', textInput('campaign', params.campaign, { placeholder: 'all' })),
    currencyField(params.currency, dflt),
    field('Chart', select('metric', METRICS, metric))]));
  const queries = [query('per channel', 'overview', params), query('per day', 'overview', Object.assign({ 'by-day': 'true' }, params))];
  const [rows, days] = await Promise.all(queries.map(q => api(q.analysis, q.params)));
  const sum = k => rows.reduce((s, r) => s + (r[k] || 0), 0);
  const revenue = sum('revenue'), spend = sum('spend');
  const card = (id, label, value) => el('div', { class: 'card', 'data-card': id }, el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }));
  out.append(el('div', { class: 'cards' },
    card('touchpoints', 'Touchpoints', fmt.int(sum('touchpoints'))),
    card('purchases', 'Purchases', fmt.int(sum('purchases'))),
    card('revenue', 'Revenue' + (currency ? ' (' + currency + ')' : ''), fmt.num2(revenue)),
    card('spend', 'Spend' + (currency ? ' (' + currency + ')' : ''), fmt.num2(spend)),
    // Like the query's roas, none over money part of which had no rate.
    card('roas', 'ROAS', fmt.num2(spend === 0 || sum('unconverted_purchases') + sum('unconverted_spend') > 0 ? null : revenue / spend))));
  const dates = uniq(days.map(r => r.day)).sort();
  const channels = uniq(days.map(r => r.channel)).sort();
  const label = METRICS.find(m => m[0] === metric)[1];
  const money = metric === 'revenue' || metric === 'spend';
  out.append(el('h2', { text: label + ' per day and channel' + (money ? inCurrency(currency) : '') }), chart('overview-days', {
    xAxis: { type: 'category', data: dates },
    yAxis: { type: 'value' },
    series: channels.map(c => ({
      name: c, type: 'bar', stack: 'all',
      data: dates.map(d => { const r = days.find(x => x.day === d && x.channel === c); return r ? r[metric] : 0; }),
    })),
  }));
  // In a reporting currency, the money without a rate is counted apart.
  const unconverted = currency ? [['unconverted_purchases', 'Purchases without a rate', fmt.int], ['unconverted_spend', 'Spend rows without a rate', fmt.int]] : [];
  out.append(el('h2', { text: 'Per channel' + inCurrency(currency) }), table('overview-channels', rows, [
    ['channel', 'Channel', fmt.text], ['touchpoints', 'Touchpoints', fmt.int], ['persons', 'Persons', fmt.int],
    ['purchases', 'Purchases', fmt.int], ['revenue', 'Revenue', fmt.num2], ['spend', 'Spend', fmt.num2], ['roas', 'ROAS', fmt.num2]].concat(unconverted)));
  out.append(el('p', { class: 'muted', text: 'Persons are distinct resolved persons per channel; a person who touched several channels counts in each. ROAS here is revenue where the purchase happened over spend; the Attribution page credits revenue to the touches that led to it.' }));
  out.append(tools(queries));
}

// ---- Attribution & ROMI ---------------------------------------------------------------

async function attribution(p, out) {
  const settings = Object.assign(rangeParams(p), { lookback: p.get('lookback') || '', 'half-life': p.get('half-life') || '', 'by-campaign': p.get('by-campaign') || '', currency: p.get('currency') || '' });
  const model = p.get('model') || '';
  const order = p.get('order') || '';
  const measure = p.get('measure') || 'revenue';
  // The parameters of a model's queries: the markov model's order goes to
  // it alone (the others have none).
  const paramsOf = m => Object.assign({ model: m }, settings, m === 'markov' ? { order } : {});
  const modelName = m => m === 'markov' && order ? 'markov (order ' + order + ')' : m;
  // The defaults of attribution.yaml, as the API's index reports them.
  const index = await api('', {});
  const defaults = Object.fromEntries(index.analyses.find(a => a.name === 'romi').parameters.map(x => [x.name, x.default]));
  out.append(form('attribution', [...rangeFields(p),
    field('Model of the ROMI table', select('model', [['', 'default: ' + defaults.model], ...MODELS.map(m => [m, m]), ['all', 'every model']], model)),
    field('Lookback', textInput('lookback', settings.lookback, { placeholder: 'default: ' + defaults.lookback })),
    field('Half-life (time decay)', textInput('half-life', settings['half-life'], { placeholder: 'default: ' + defaults['half-life'] })),
    field('Markov order', select('order', [['', 'default: ' + defaults.order], ...['1', '2', '3', '4'].map(o => [o, o])], order)),
    checkbox('by-campaign', 'per campaign', settings['by-campaign']),
    currencyField(settings.currency, defaults.currency),
    field('Chart', select('measure', [['revenue', 'Attributed revenue'], ['conversions', 'Attributed conversions']], measure))]));
  const queries = MODELS.map(m => query(modelName(m), 'attribution', paramsOf(m)));
  // model 'all' shows a ROMI table per model.
  const romiModels = model === 'all' ? MODELS : [model];
  const romiQueries = romiModels.map(m => query('ROMI' + (model === 'all' ? ', ' + modelName(m) : ''), 'romi', paramsOf(m)));
  queries.push(...romiQueries);
  const results = await Promise.all(queries.map(q => api(q.analysis, q.params)));
  const romis = results.splice(MODELS.length);
  const key = r => settings['by-campaign'] ? r.channel + ' / ' + r.campaign : r.channel;
  const keys = uniq(results.flat().map(key)).sort();
  const currency = settings.currency || defaults.currency;
  out.append(el('h2', { text: (measure === 'revenue' ? 'Attributed revenue' : 'Attributed conversions') + ' per channel under each model' + (measure === 'revenue' ? inCurrency(currency) : '') }), chart('attribution-models', {
    xAxis: { type: 'category', data: keys, axisLabel: { rotate: keys.length > 8 ? 30 : 0 } },
    yAxis: { type: 'value' },
    series: MODELS.map((m, i) => ({
      name: modelName(m), type: 'bar',
      data: keys.map(k => { const r = results[i].find(x => key(x) === k); return r ? r[measure] : 0; }),
    })),
  }));
  const cols = [['channel', 'Channel', fmt.text]];
  if (settings['by-campaign']) cols.push(['campaign', 'Campaign', fmt.text]);
  // In a reporting currency, the money without a rate is counted apart.
  const unconverted = currency ? [['unconverted_conversions', 'Conversions without a rate', fmt.num2], ['unconverted_spend', 'Spend rows without a rate', fmt.num2]] : [];
  romiModels.forEach((m, i) => out.append(
    el('h2', { text: 'ROMI per ' + (settings['by-campaign'] ? 'campaign' : 'channel') + ', model ' + modelName(m || defaults.model) + inCurrency(currency) }),
    table(model === 'all' ? 'romi-' + m : 'romi', romis[i], cols.concat([['conversions', 'Conversions', fmt.num2], ['revenue', 'Revenue', fmt.num2],
      ['spend', 'Spend', fmt.num2], ['roas', 'ROAS', fmt.num2], ['romi', 'ROMI', fmt.pct], ['cpa', 'CPA', fmt.num2]], unconverted))));
  out.append(el('h2', { text: 'Attributed revenue per model' + inCurrency(currency) }), table('attribution-revenue',
    keys.map(k => Object.assign({ key: k }, ...MODELS.map((m, i) => { const r = results[i].find(x => key(x) === k); return { [m]: r ? r.revenue : 0 }; }))),
    [['key', settings['by-campaign'] ? 'Channel / campaign' : 'Channel', fmt.text], ...MODELS.map(m => [m, modelName(m), fmt.num2])]));
  out.append(tools(queries));
}

// ---- Funnel -------------------------------------------------------------------------------

async function funnel(p, out) {
  // A breakdown by a property is property:NAME, in a column NAME.
  const property = p.get('property') || '';
  const params = Object.assign(rangeParams(p), {
    steps: p.get('steps') || 'page_view,add_to_cart,purchase', window: p.get('window') || '24h',
    breakdown: property ? 'property:' + property : p.get('breakdown') || '',
  });
  out.append(form('funnel', [...rangeFields(p),
    field('Steps (event types in order, optional [name=value;...] filters)', textInput('steps', params.steps, { class: 'wide' })),
    field('Window', textInput('window', params.window)),
    field('Breakdown by a field', select('breakdown', BREAKDOWNS, property ? '' : params.breakdown)),
    field('or by a property', textInput('property', property, { placeholder: 'e.g. category' }))]));
  const queries = [query('funnel', 'funnel', params)];
  const rows = await api('funnel', params);
  const bd = property || params.breakdown;
  const groups = bd ? uniq(rows.map(r => r[bd])) : [''];
  const steps = uniq(rows.map(r => r.step_name));
  out.append(el('h2', { text: 'Persons reaching each step' }), chart('funnel-steps', {
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: steps },
    yAxis: { type: 'value' },
    series: groups.map(g => ({
      name: bd ? (g === '' ? '(empty)' : g) : 'persons', type: 'bar',
      label: { show: !bd, position: 'top', lineHeight: 16, formatter: x => x.dataIndex === 0 ? '' :
        fmt.pct(rows[x.dataIndex].conversion_from_first) + ' of step 1\n' + fmt.pct(rows[x.dataIndex].conversion_from_previous) + ' of the previous' },
      data: steps.map(s => { const r = rows.find(x => x.step_name === s && (!bd || x[bd] === g)); return r ? r.persons : 0; }),
    })),
  }));
  const cols = bd ? [[bd, bd, fmt.text]] : [];
  out.append(el('h2', { text: 'Steps' }), table('funnel', rows, cols.concat([
    ['step', 'Step', fmt.int], ['step_name', 'Definition', fmt.text], ['persons', 'Persons', fmt.int],
    ['conversion_from_first', 'From first', fmt.pct], ['conversion_from_previous', 'From previous', fmt.pct],
    ['median_seconds_from_first', 'Median time from step 1', fmt.dur]])));
  out.append(tools(queries));
}

// ---- Cohorts ----------------------------------------------------------------------------------

async function cohorts(p, out) {
  const params = Object.assign(rangeParams(p), {
    period: p.get('period') || 'month', periods: p.get('periods') || '6', by: p.get('by') || 'first_purchase',
    activity: p.get('activity') || 'purchase', 'by-channel': p.get('by-channel') || '', currency: p.get('currency') || '',
  });
  const dflt = await currencyDefault('cohort');
  const currency = params.currency || dflt;
  out.append(form('cohorts', [...rangeFields(p),
    field('Period', select('period', [['day', 'day'], ['week', 'week'], ['month', 'month']], params.period)),
    field('Periods', el('input', { type: 'number', name: 'periods', min: 1, max: 1000, value: params.periods })),
    field('Cohort by', select('by', [['first_purchase', 'first purchase'], ['first_seen', 'first seen']], params.by)),
    field('Active with', select('activity', [['purchase', 'a purchase'], ['any', 'any event']], params.activity)),
    checkbox('by-channel', 'per channel', params['by-channel']),
    currencyField(params.currency, dflt)]));
  const queries = [query('cohorts', 'cohort', params)];
  const rows = await api('cohort', params);
  const name = r => params['by-channel'] ? r.cohort + ' ' + r.channel : r.cohort;
  const names = uniq(rows.map(name));
  const periods = uniq(rows.map(r => r.period)).sort((a, b) => a - b);
  out.append(el('h2', { text: 'Retention' }), chart('cohort-retention', {
    tooltip: { position: 'top', formatter: x => names[x.value[1]] + ', period ' + x.value[0] + ': ' + fmt.pct(x.value[2]) },
    grid: { top: 20, left: 160, right: 40, bottom: 90 },
    xAxis: { type: 'category', data: periods, name: 'period', splitArea: { show: true } },
    yAxis: { type: 'category', data: names, inverse: true, splitArea: { show: true } },
    visualMap: { min: 0, max: 1, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 200, text: ['100%', '0%'], formatter: v => fmt.pct(v) },
    series: [{ type: 'heatmap', data: rows.map(r => [periods.indexOf(r.period), names.indexOf(name(r)), r.retention]),
      label: { show: names.length * periods.length <= 120, formatter: x => fmt.pct(x.value[2]) } }],
  }));
  out.append(el('h2', { text: 'Cumulative revenue per person (LTV)' + inCurrency(currency) }), chart('cohort-ltv', {
    xAxis: { type: 'category', data: periods, name: 'period' },
    yAxis: { type: 'value' },
    series: names.map(n => ({ name: n, type: 'line', data: rows.filter(r => name(r) === n).map(r => r.cumulative_revenue_per_person) })),
  }));
  const cols = [['cohort', 'Cohort', fmt.text]];
  if (params['by-channel']) cols.push(['channel', 'Channel', fmt.text]);
  // In a reporting currency, the purchases without a rate are counted apart.
  const unconverted = currency ? [['unconverted_purchases', 'Purchases without a rate', fmt.int]] : [];
  out.append(el('h2', { text: 'Cohorts' + inCurrency(currency) }), table('cohort', rows, cols.concat([
    ['period', 'Period', fmt.int], ['cohort_size', 'Size', fmt.int], ['active', 'Active', fmt.int], ['retention', 'Retention', fmt.pct],
    ['revenue', 'Revenue', fmt.num2], ['revenue_per_person', 'Per person', fmt.num2], ['cumulative_revenue_per_person', 'LTV', fmt.num2]], unconverted)));
  out.append(tools(queries));
}

// ---- Alerts ----------------------------------------------------------------------------------

async function alerts(p, out) {
  const rule = p.get('rule') || '';
  out.append(form('alerts', [...rangeFields(p), field('Rule', textInput('rule', rule, { placeholder: 'all' }))]));
  // The rules come from alerts.yaml, not from a query: they have no SQL.
  const queries = [Object.assign(query('rules', 'alert-rules', {}), { sql: false }),
    query('current state', 'alert-state', { rule }), query('history', 'alert-history', Object.assign(rangeParams(p), { rule }))];
  const [allRules, state, history] = await Promise.all(queries.map(q => api(q.analysis, q.params)));
  // Each rule's current state: how many of its groups are in each status.
  const stateOf = name => ['firing', 'pending', 'ok'].map(s => [s, state.filter(r => r.rule === name && r.status === s).length])
    .filter(([, n]) => n > 0).map(([s, n]) => n + ' ' + s).join(', ') || 'not evaluated yet';
  const ruleRows = allRules.filter(r => !rule || r.rule === rule).map(r => Object.assign({ state: stateOf(r.rule) }, r));
  out.append(el('h2', { text: 'Rules (alerts.yaml)' }), table('alert-rules', ruleRows, [
    ['rule', 'Rule', fmt.text], ['state', 'State now', fmt.text], ['kpi', 'KPI', fmt.text],
    ['scope', 'Group by', fmt.text], ['channels', 'Channels', fmt.text], ['window', 'Window', fmt.text], ['every', 'Every', fmt.text],
    ['condition', 'Condition', fmt.text], ['condition_text', 'When', fmt.text], ['for', 'For', fmt.int], ['severity', 'Severity', fmt.text],
    ['cooldown', 'Cooldown', fmt.text], ['source', 'Line', fmt.text]]));
  const count = (rows, status) => rows.filter(r => r.status === status).length;
  const card = (id, label, value) => el('div', { class: 'card', 'data-card': id }, el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }));
  out.append(el('div', { class: 'cards' },
    card('firing', 'Firing now', fmt.int(count(state, 'firing'))),
    card('pending', 'Pending now', fmt.int(count(state, 'pending'))),
    card('fired', 'Fired in the range', fmt.int(count(history, 'firing'))),
    card('resolved', 'Resolved in the range', fmt.int(count(history, 'resolved')))));
  const days = uniq(history.map(r => r.sent.slice(0, 10))).sort();
  out.append(el('h2', { text: 'Notifications per day' }), chart('alert-days', {
    xAxis: { type: 'category', data: days },
    yAxis: { type: 'value', minInterval: 1 },
    series: ['firing', 'resolved'].map(s => ({ name: s, type: 'bar', stack: 'all', data: days.map(d => history.filter(r => r.status === s && r.sent.startsWith(d)).length) })),
  }));
  out.append(el('h2', { text: 'Current state of each rule and group' }), table('alert-state', state, [
    ['rule', 'Rule', fmt.text], ['channel', 'Channel', fmt.text], ['campaign', 'Campaign', fmt.text], ['status', 'Status', fmt.text],
    ['since', 'Pending since', fmt.text], ['last_fired', 'Last fired', fmt.text], ['last_resolved', 'Last resolved', fmt.text],
    ['evaluated', 'Evaluated', fmt.text], ['last_value', 'Last value', fmt.num2], ['currency', 'Currency', fmt.text], ['incident', 'Incident', fmt.text]]));
  out.append(el('h2', { text: 'Incident history (UTC)' }), table('alert-history', history, [
    ['sent', 'Sent', fmt.text], ['status', 'Status', fmt.text], ['rule', 'Rule', fmt.text], ['severity', 'Severity', fmt.text],
    ['kpi', 'KPI', fmt.text], ['channel', 'Channel', fmt.text], ['campaign', 'Campaign', fmt.text], ['value', 'Value', fmt.num2], ['currency', 'Currency', fmt.text],
    ['reference', 'Reference', fmt.num2], ['incident', 'Incident', fmt.text], ['message', 'Message', fmt.text]]));
  out.append(el('p', { class: 'muted', text: 'The rules are those of alerts.yaml in the pipelines directory, read when touchline ui started; touchline alerts eval shows each evaluated now.' }));
  out.append(tools(queries));
}

// ---- Segments ----------------------------------------------------------------------------------

// personLink is the address of a person's page over the range of p.
const personLink = (p, person) => '#/person?' + new URLSearchParams(given(Object.assign(rangeParams(p), { person })));

async function segments(p, out) {
  const segment = p.get('segment') || '';
  const counts = await api('segments', {});
  out.append(form('segments', [...rangeFields(p),
    field('Members of', select('segment', [['', '(choose a segment)'], ...counts.map(r => [r.segment, r.segment])], segment))]));
  const queries = [query('members per day', 'segment-history', rangeParams(p)), query('current members per segment', 'segments', {})];
  if (segment) queries.push(query('current members of ' + segment, 'segment-members', { segment }));
  const [history, , members] = await Promise.all(queries.map(q => q.analysis === 'segments' ? counts : api(q.analysis, q.params)));
  const days = uniq(history.map(r => r.day)).sort();
  const names = uniq(history.map(r => r.segment)).sort();
  out.append(el('h2', { text: 'Members at the end of each day (UTC)' }), chart('segment-members-days', {
    xAxis: { type: 'category', data: days },
    yAxis: { type: 'value', minInterval: 1 },
    series: names.map(n => ({ name: n, type: 'line', data: days.map(d => { const r = history.find(x => x.segment === n && x.day === d); return r ? r.members : null; }) })),
  }));
  out.append(el('h2', { text: 'Current members per segment' }), table('segments', counts, [
    ['segment', 'Segment', fmt.text, r => '#/segments?' + new URLSearchParams(given(Object.assign(rangeParams(p), { segment: r.segment })))],
    ['members', 'Members', fmt.int]]));
  if (segment) {
    out.append(el('h2', { text: 'Current members of ' + segment + ' (UTC)' }), table('segment-members', members, [
      ['person', 'Person', fmt.text, r => personLink(p, r.person)], ['person_id', 'Stored as', fmt.text], ['since', 'Member since', fmt.text]]));
  }
  out.append(el('h2', { text: 'Entries and exits per day' }), table('segment-history', history, [
    ['segment', 'Segment', fmt.text], ['day', 'Day', fmt.text], ['entered', 'Entered', fmt.int], ['exited', 'Exited', fmt.int], ['members', 'Members at the end', fmt.int]]));
  out.append(el('p', { class: 'muted', text: 'Members are those of the segments service, as segment_changes records them; a member listed by a person merged into another links to the surviving person.' }));
  out.append(tools(queries));
}

// ---- Person -------------------------------------------------------------------------------------

// utcTime reads a time the analyses give as 'YYYY-MM-DD hh:mm:ss[.mmm]' in UTC.
const utcTime = s => new Date(s.replace(' ', 'T') + 'Z').getTime();

async function person(p, out) {
  const id = p.get('person') || '';
  out.append(form('person', [...rangeFields(p), field('Person id, or an identifier as type:value', textInput('person', id, { class: 'wide', placeholder: 'p_3f9a... or email:jane@example.com' }))]));
  if (!id) {
    out.append(el('p', { class: 'muted', text: 'Give a person id (the segments page links each member to its page) or an identifier as type:value, normalised and hashed as ingest does.' }));
    return;
  }
  const ranged = Object.assign(rangeParams(p), { person: id });
  const queries = [query('identifiers', 'person-identifiers', { person: id }), query('merges', 'person-merges', { person: id }),
    query('touches', 'person-touches', ranged), query('segments', 'person-segments', ranged)];
  const [identifiers, merges, touches, changes] = await Promise.all(queries.map(q => api(q.analysis, q.params)));
  const channels = uniq(touches.map(r => r.channel)).sort();
  const devices = uniq(touches.map(r => r.device_type)).sort();
  out.append(el('h2', { text: 'Touches across channels and devices (UTC)' }), chart('person-timeline', {
    tooltip: { trigger: 'item', formatter: x => x.data[2] + ' ' + x.data[3] + ' on ' + x.data[1] + ' (' + x.seriesName + ')' },
    grid: { top: 40, left: 120, right: 30, bottom: 50 },
    xAxis: { type: 'time' },
    yAxis: { type: 'category', data: channels },
    series: devices.map(d => ({ name: d === '' ? '(no device)' : d, type: 'scatter', symbolSize: 12,
      data: touches.filter(r => r.device_type === d).map(r => [utcTime(r.touched), r.channel, r.touched, r.event_type]) })),
  }));
  out.append(el('h2', { text: 'Touches' }), table('person-touches', touches, [
    ['touched', 'Time', fmt.text], ['channel', 'Channel', fmt.text], ['event_type', 'Event', fmt.text], ['device_type', 'Device', fmt.text],
    ['campaign', 'Campaign', fmt.text], ['utm_source', 'Source', fmt.text], ['revenue_units', 'Revenue', fmt.num2], ['person_id', 'Stored as', fmt.text]]));
  out.append(el('h2', { text: 'Segments entered and exited' }), table('person-segments', changes, [
    ['changed', 'Time', fmt.text], ['segment', 'Segment', fmt.text], ['change', 'Change', fmt.text], ['person_id', 'Stored as', fmt.text]]));
  out.append(el('h2', { text: 'Identifiers (hashed, as stored)' }), table('person-identifiers', identifiers, [
    ['identifier_type', 'Type', fmt.text], ['identifier_value', 'Value', fmt.text], ['seen', 'First seen', fmt.text]]));
  out.append(el('h2', { text: 'Merge history' }), table('person-merges', merges, [
    ['merged', 'Merged at', fmt.text], ['merged_person_id', 'Merged person', fmt.text, r => personLink(p, r.merged_person_id)],
    ['surviving_person_id', 'Into', fmt.text], ['request_id', 'Request', fmt.text]]));
  out.append(tools(queries));
}

// ---- frame --------------------------------------------------------------------------------------

const PAGES = {
  overview: ['Overview: channels', overview],
  attribution: ['Attribution & ROMI', attribution],
  funnel: ['Funnel', funnel],
  cohorts: ['Cohorts', cohorts],
  alerts: ['Alerts', alerts],
  segments: ['Segments', segments],
  person: ['Person', person],
};

// form returns a page's parameter form; submitting it moves to the page
// with its parameters. In a report it only shows the parameters.
function form(page, fields) {
  if (REPORT) return el('form', { class: 'params' }, el('fieldset', { disabled: true }, ...fields));
  return el('form', { class: 'params', id: 'params', onsubmit: e => { e.preventDefault(); go(page, formParams(e.target)); } },
    ...fields, el('button', { type: 'submit', text: 'Show' }));
}

// draw runs show, which fills main, and marks main done when it and its
// charts are drawn, or shows its error.
async function draw(main, show) {
  main.dataset.state = 'loading';
  try {
    await show();
    // Charts draw on the next frame; the page is done after them.
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    main.dataset.state = 'done';
  } catch (e) {
    main.append(el('div', { class: 'error', id: 'error', text: e.message }));
    main.dataset.state = 'error';
  }
}

async function render() {
  const { page, params } = route();
  const main = document.getElementById('main');
  charts.forEach(c => c.dispose());
  charts = [];
  main.replaceChildren(el('h1', { text: PAGES[page][0] }));
  main.dataset.page = page;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  document.title = 'touchline: ' + PAGES[page][0];
  await draw(main, () => PAGES[page][1](params, main));
}

// renderReport shows every section of the report, one after the other.
async function renderReport() {
  const main = document.getElementById('main');
  await draw(main, async () => {
    for (const s of REPORT.sections) {
      const section = el('section', { class: 'report-section', 'data-page': s.page }, el('h1', { text: PAGES[s.page][0] }));
      main.append(section);
      await PAGES[s.page][1](new URLSearchParams(s.params), section);
    }
  });
}

if (REPORT) {
  window.addEventListener('DOMContentLoaded', renderReport);
} else {
  window.addEventListener('hashchange', render);
  window.addEventListener('DOMContentLoaded', render);
}
