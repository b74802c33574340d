// SysTok web app: vanilla JavaScript, no dependencies, served by stk-indexer.
// Everything shown that came from a member, the platform or the chain goes through textContent
// (el() below); nothing is ever parsed as HTML.
'use strict';
(() => {
  // ---------- i18n ----------
  const T = {
    en: {
      skip: 'Skip to content', language: 'Language', pages: 'Pages',
      nav_member: 'Member', nav_sell: 'Sell back', nav_access: 'Access', nav_investor: 'Investor',
      nav_economy: 'Economy', nav_epochs: 'Epochs',
      connect: 'Connect wallet', connected: 'Wallet {0}', choose_wallet: 'Choose a wallet:',
      no_wallet: 'No wallet found. Install a Solana wallet that supports the Wallet Standard (Phantom, Solflare, Backpack).',
      connect_first: 'Connect a wallet first.', loading: 'Loading…', failed: 'Failed: {0}',
      no_cluster: 'This service is not connected to a cluster.',
      foot: 'SysTok — members earn STK for their activity. Data from this service and the Solana cluster.',
      member_title: 'Member', member_id: 'Member id', open: 'Open', member_hint: 'Open your page from the platform to bind a wallet, or enter a member id to see its public record.',
      status: 'Status', st_active: 'active', st_inactive: 'inactive', wallet: 'Wallet', none: 'none',
      bind_title: 'Bind your wallet', bind_hint: 'Your wallet signs a one-time message; nothing is sent on chain and nothing is paid.',
      bind: 'Bind the connected wallet', bound_ok: 'Wallet {0} is now bound to {1}.', already_bound: 'The connected wallet is bound to this member.',
      session_none: 'To bind a wallet, open this page from the platform (your session proves who you are).',
      session_for: 'Signed in from the platform as {0} (until {1}).',
      balance: 'Balance', stk: 'STK', quote: 'Quote', sol: 'SOL', access_total: 'Paid for access (total)',
      rewards: 'Rewards per epoch', rewards_none: 'No rewards yet.', chart_rewards: 'Bar chart of STK rewarded per epoch',
      receipts: 'Receipts, explained', epoch_n: 'Epoch {0}', not_scored: 'Epoch {0}: not scored yet ({1} events so far).',
      timeline: 'Activity timeline', more: 'Load more', export_json: 'Export JSON', export_csv: 'Export CSV', exported: 'Exported {0} items.',
      t_type: 'What', t_at: 'When', t_epoch: 'Epoch', t_detail: 'Details', t_amount: 'Amount',
      ty_activity: 'Activity', ty_points: 'Points', ty_received: 'Received', ty_sold_back: 'Sold back', ty_paid_access: 'Paid for access', ty_bought_premium: 'Bought at premium',
      r_counted: '{0} events counted:', r_event: '“{0}” ({1}): {2} base points{3}, × {4} → {5} points.', r_conf: ', + {0} for {1} confirmations',
      r_evidence: ', evidence {0} (× {1})', r_confirmed_by: ' Confirmed by: {0}.',
      r_dropped: '{0} events not counted:', r_drop: '“{0}” ({1}): {2}{3}.', r_would: ' (would have been {0} points)',
      r_caps: 'Caps reached:', r_cap: '{0}: {1}, {2} events.',
      r_raw: 'Raw points: {0}.', r_spread: 'Spread multiplier × {0}: active on {1} of {2} days.', r_consistency: 'Consistency multiplier × {0}.',
      r_tenure: 'Tenure: {0} epochs.', r_capped: 'After the ceiling: {0} points{1}.', r_ceiling: ' (ceiling reached)',
      r_score: 'Score: {0} points.', r_qualified: 'Qualified: the score is above the minimum.', r_not_qualified: 'Not qualified: the score is below the minimum, so nothing is paid.',
      r_amount: 'Allocation: {0} STK.',
      sell_title: 'Sell back',
      amount_stk: 'Amount (STK)',
      rule_price: 'Buyback price by rule (quote per STK)', rule_capacity: 'Next window buys at most (quote)',
      tender_title: 'Tender window (pro rata)', tender_note: 'Every order of a window is filled at the same ratio, whenever it was sent; after the window is settled, claim: quote for the filled part, the rest of your STK back.',
      place_order: 'Sign and place an order', claim_order: 'Sign and claim',
      sent_ok: 'Done. Transaction {0}.', new_balance: 'Now: {0} STK, {1} quote.',
      access_title: 'Access', plans: 'Plans', plan_row: '{0} days — {1} STK (fiat price {2}, {3}% off in STK)', pay: 'Sign and pay', plan: 'Plan',
      plan_floor: 'STK prices at the floor, {0} quote per STK (the vault per floating STK): paying in STK costs less than the fiat price.',
      no_floor: 'No floor yet: access cannot be paid in STK.', no_plans: 'No plan can be paid in STK now.',
      receipt_access: 'Receipt: plan {0} ({1} days), {2} STK burned, reference {3}, transaction {4}.',
      investor_title: 'Investor', allowlist: 'Allowlist', allow_on: 'on', allow_off: 'off (anyone may buy)',
      you_allowed: 'Your wallet may buy', yes: 'yes', no: 'no', premium_price: 'Premium price (quote per STK)', floor_price: 'Floor (quote per STK)', vault_share: 'Share of each purchase to the vault', alloc_left: 'Allocation remaining (STK)',
      max_price: 'Maximum price (quote per STK)', buy: 'Sign and buy', buy_preview: 'Costs {0} quote now; you pay at most {1}.',
      economy_title: 'Economy', supply: 'Supply (STK)', max_supply: 'Max supply (STK)', distributed: 'Distributed (STK)', premium_minted: 'Minted at premium (STK)',
      burned: 'Burned (STK)', burned_sell: 'Burned by sell-backs', burned_access: 'Burned for access', vault: 'Buyback vault (quote)',
      treasury: 'Treasury (quote)', per_epoch: 'Distributed per epoch', chart_epochs: 'Bar chart of STK distributed per epoch',
      chart_burned: 'Bar chart of STK burned by sell-backs and for access', burn_split: 'Burned, by cause',
      epochs_title: 'Epochs', e_state: 'State', e_period: 'Period', e_events: 'Events', e_amount: 'Paid (STK)', e_root: 'Root', e_att: 'Attestations', e_log: 'Log',
      log_link: 'log of epoch {0}', att_of: '{0} of {1} (threshold {2})', finalized: 'finalized', details: 'Details',
      invalid_amount: 'Enter a positive amount with at most 6 decimals.',
      sign_rejected: 'The wallet did not sign: {0}',
      reason_UnknownMember: 'unknown member', reason_InactiveMember: 'member inactive', reason_UnknownKind: 'kind not in the rules',
      reason_OutsideEpoch: 'outside the epoch', reason_Backfilled: 'reported too late', reason_FromFuture: 'dated in the future',
      reason_NotObserved: 'not observed by a source', reason_Unconfirmed: 'not confirmed', reason_ClaimOnly: 'a claim with no evidence',
      reason_DailyCap: 'daily cap reached', reason_WeeklyCap: 'weekly cap reached', reason_MonthlyCap: 'monthly cap reached',
      reason_Cooldown: 'too soon after the previous one', reason_BelowMinimumScore: 'score below the minimum', reason_NotQualified: 'score below the minimum',
      reason_observed: 'observed', reason_confirmed: 'confirmed', reason_claimed: 'claimed',
      r_confirmations: 'Confirmations of these events: {0} received, {1} given.',
      state_open: 'open', state_frozen: 'frozen', state_scored: 'scored', state_attested: 'attested', state_finalized: 'finalized', state_distributing: 'distributing', state_done: 'done',
    },
    ru: {
      skip: 'К содержимому', language: 'Язык', pages: 'Разделы',
      nav_member: 'Участник', nav_sell: 'Обратный выкуп', nav_access: 'Доступ', nav_investor: 'Инвестор',
      nav_economy: 'Экономика', nav_epochs: 'Эпохи',
      connect: 'Подключить кошелёк', connected: 'Кошелёк {0}', choose_wallet: 'Выберите кошелёк:',
      no_wallet: 'Кошелёк не найден. Установите кошелёк Solana с поддержкой Wallet Standard (Phantom, Solflare, Backpack).',
      connect_first: 'Сначала подключите кошелёк.', loading: 'Загрузка…', failed: 'Ошибка: {0}',
      no_cluster: 'Сервис не подключён к кластеру.',
      foot: 'SysTok — участники получают STK за активность. Данные этого сервиса и кластера Solana.',
      member_title: 'Участник', member_id: 'Идентификатор участника', open: 'Открыть', member_hint: 'Откройте свою страницу с платформы, чтобы привязать кошелёк, или введите идентификатор, чтобы посмотреть открытые данные.',
      status: 'Статус', st_active: 'активен', st_inactive: 'неактивен', wallet: 'Кошелёк', none: 'нет',
      bind_title: 'Привязка кошелька', bind_hint: 'Кошелёк подписывает одноразовое сообщение; в сеть ничего не отправляется, платить не нужно.',
      bind: 'Привязать подключённый кошелёк', bound_ok: 'Кошелёк {0} привязан к {1}.', already_bound: 'Подключённый кошелёк привязан к этому участнику.',
      session_none: 'Чтобы привязать кошелёк, откройте эту страницу с платформы (сессия подтверждает, кто вы).',
      session_for: 'Вход с платформы: {0} (до {1}).',
      balance: 'Баланс', stk: 'STK', quote: 'Котировочный токен', sol: 'SOL', access_total: 'Оплачено за доступ (всего)',
      rewards: 'Награды по эпохам', rewards_none: 'Наград пока нет.', chart_rewards: 'Столбчатая диаграмма: STK за каждую эпоху',
      receipts: 'Расчёты с пояснениями', epoch_n: 'Эпоха {0}', not_scored: 'Эпоха {0}: ещё не подсчитана (событий: {1}).',
      timeline: 'Лента активности', more: 'Показать ещё', export_json: 'Выгрузить JSON', export_csv: 'Выгрузить CSV', exported: 'Выгружено записей: {0}.',
      t_type: 'Что', t_at: 'Когда', t_epoch: 'Эпоха', t_detail: 'Подробности', t_amount: 'Сумма',
      ty_activity: 'Активность', ty_points: 'Баллы', ty_received: 'Получено', ty_sold_back: 'Продано обратно', ty_paid_access: 'Оплата доступа', ty_bought_premium: 'Покупка с премией',
      r_counted: 'Засчитано событий: {0}.', r_event: '«{0}» ({1}): базовые баллы — {2}{3}; × {4} → баллов: {5}.', r_conf: ', + {0} за подтверждения ({1})',
      r_evidence: ', доказательство {0} (× {1})', r_confirmed_by: ' Подтвердили: {0}.',
      r_dropped: 'Не засчитано событий: {0}.', r_drop: '«{0}» ({1}): {2}{3}.', r_would: ' (было бы баллов: {0})',
      r_caps: 'Достигнуты лимиты:', r_cap: '{0}: {1}, событий: {2}.',
      r_raw: 'Исходные баллы: {0}.', r_spread: 'Множитель равномерности × {0}: дни с активностью — {1} из {2}.', r_consistency: 'Множитель постоянства × {0}.',
      r_tenure: 'Стаж: эпох — {0}.', r_capped: 'После потолка, баллов: {0}{1}.', r_ceiling: ' (потолок достигнут)',
      r_score: 'Итог, баллов: {0}.', r_qualified: 'Порог пройден: итог выше минимума.', r_not_qualified: 'Порог не пройден: итог ниже минимума, выплаты нет.',
      r_amount: 'Начислено: {0} STK.',
      sell_title: 'Обратный выкуп',
      amount_stk: 'Количество (STK)',
      rule_price: 'Цена выкупа по правилу (котировочных за 1 STK)', rule_capacity: 'Следующее окно купит не больше (котировочных)',
      tender_title: 'Окно заявок (пропорционально)', tender_note: 'Все заявки окна исполняются в одной доле, когда бы они ни были отправлены; после расчёта окна заберите: котировочные за исполненную часть и остаток STK.',
      place_order: 'Подписать и подать заявку', claim_order: 'Подписать и забрать',
      sent_ok: 'Готово. Транзакция {0}.', new_balance: 'Теперь: {0} STK, {1} котировочных.',
      access_title: 'Доступ', plans: 'Тарифы', plan_row: 'Срок (дней): {0} — {1} STK (цена в фиате: {2}; скидка при оплате в STK, %: {3})', pay: 'Подписать и оплатить', plan: 'Тариф',
      plan_floor: 'Цены в STK — по нижней цене, котировочных за 1 STK: {0} (хранилище на STK в обращении); в STK дешевле, чем в фиате.',
      no_floor: 'Нижней цены пока нет: оплатить доступ в STK нельзя.', no_plans: 'Сейчас нет тарифов для оплаты в STK.',
      receipt_access: 'Квитанция: тариф {0} (дней: {1}), сожжено {2} STK, номер {3}, транзакция {4}.',
      investor_title: 'Инвестор', allowlist: 'Список допуска', allow_on: 'включён', allow_off: 'выключен (купить может любой)',
      you_allowed: 'Ваш кошелёк может покупать', yes: 'да', no: 'нет', premium_price: 'Цена с премией (котировочных за 1 STK)', floor_price: 'Обеспечение фонда (котировочных за 1 STK)', vault_share: 'Доля каждой покупки в фонд выкупа', alloc_left: 'Остаток для инвесторов (STK)',
      max_price: 'Максимальная цена (котировочных за 1 STK)', buy: 'Подписать и купить', buy_preview: 'Сейчас стоит {0}; вы заплатите не больше {1}.',
      economy_title: 'Экономика', supply: 'В обращении (STK)', max_supply: 'Максимальный выпуск (STK)', distributed: 'Распределено (STK)', premium_minted: 'Выпущено с премией (STK)',
      burned: 'Сожжено (STK)', burned_sell: 'Сожжено при выкупе', burned_access: 'Сожжено за доступ', vault: 'Хранилище выкупа (котировочных)',
      treasury: 'Казна (котировочных)', per_epoch: 'Распределено по эпохам', chart_epochs: 'Столбчатая диаграмма: STK, распределённые за каждую эпоху',
      chart_burned: 'Столбчатая диаграмма: STK, сожжённые при выкупе и за доступ', burn_split: 'Сожжено, по причинам',
      epochs_title: 'Эпохи', e_state: 'Состояние', e_period: 'Период', e_events: 'События', e_amount: 'Выплачено (STK)', e_root: 'Корень', e_att: 'Подтверждения', e_log: 'Журнал',
      log_link: 'журнал эпохи {0}', att_of: '{0} из {1} (порог {2})', finalized: 'завершена', details: 'Подробности',
      invalid_amount: 'Введите положительное число, не более 6 знаков после запятой.',
      sign_rejected: 'Кошелёк не подписал: {0}',
      reason_UnknownMember: 'неизвестный участник', reason_InactiveMember: 'участник неактивен', reason_UnknownKind: 'вид не предусмотрен правилами',
      reason_OutsideEpoch: 'вне эпохи', reason_Backfilled: 'сообщено слишком поздно', reason_FromFuture: 'дата в будущем',
      reason_NotObserved: 'не подтверждено источником', reason_Unconfirmed: 'не подтверждено', reason_ClaimOnly: 'только заявление, без доказательств',
      reason_DailyCap: 'достигнут дневной лимит', reason_WeeklyCap: 'достигнут недельный лимит', reason_MonthlyCap: 'достигнут месячный лимит',
      reason_Cooldown: 'слишком скоро после предыдущего', reason_BelowMinimumScore: 'итог ниже минимума', reason_NotQualified: 'итог ниже минимума',
      reason_observed: 'наблюдалось', reason_confirmed: 'подтверждено', reason_claimed: 'заявлено',
      r_confirmations: 'Подтверждения: получено {0}, дано {1}.',
      state_open: 'открыта', state_frozen: 'закрыта для событий', state_scored: 'подсчитана', state_attested: 'подтверждается', state_finalized: 'утверждена', state_distributing: 'выплачивается', state_done: 'выплачена',
    },
  };
  const params = new URLSearchParams(location.search);
  let lang = params.get('lang') || localStorage.getItem('stk.lang') || document.documentElement.lang;
  if (!T[lang]) lang = 'en';
  const t = (k, ...a) => {
    const s = (T[lang] && T[lang][k]) || T.en[k] || k;
    return s.replace(/\{(\d)\}/g, (_, i) => String(a[Number(i)] ?? ''));
  };

  // ---------- DOM: text only ----------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = String(v); else e.setAttribute(k, String(v));
    }
    for (const c of kids.flat()) if (c) e.append(c);
    return e;
  }
  const $ = (id) => document.getElementById(id);
  function say(text, kind) {
    const s = $('status');
    s.replaceChildren(text ? el('p', { class: kind || '', text }) : '');
  }

  // ---------- numbers ----------
  const locale = () => (lang === 'ru' ? 'ru-RU' : 'en-US');
  function units(n, dec) {
    if (n === null || n === undefined) return '—';
    let b;
    try { b = BigInt(n); } catch (_) { return String(n); }
    const neg = b < 0n; if (neg) b = -b;
    const s = b.toString().padStart(dec + 1, '0');
    const whole = BigInt(s.slice(0, s.length - dec)).toLocaleString(locale());
    const frac = dec ? s.slice(s.length - dec).replace(/0+$/, '') : '';
    const sep = lang === 'ru' ? ',' : '.';
    return (neg ? '-' : '') + whole + (frac ? sep + frac : '');
  }
  const stk = (n) => units(n, 6);
  function parseUnits(text, dec) {
    const s = String(text).trim().replace(',', '.');
    if (!/^\d{1,15}(\.\d+)?$/.test(s)) return null;
    const [w, f = ''] = s.split('.');
    if (f.length > dec) return null;
    return BigInt(w) * 10n ** BigInt(dec) + BigInt((f + '0'.repeat(dec)).slice(0, dec) || '0');
  }
  const points = (m) => (Number(m) / 1000).toLocaleString(locale(), { maximumFractionDigits: 3 });
  const times = (bps) => (Number(bps) / 10000).toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 4 });
  const date = (unixOrIso) => {
    const d = typeof unixOrIso === 'number' ? new Date(unixOrIso * 1000) : new Date(unixOrIso);
    return isNaN(d) ? String(unixOrIso) : d.toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'short' });
  };
  const short = (a) => (a && a.length > 12 ? a.slice(0, 4) + '…' + a.slice(-4) : a || '');

  // ---------- base58 / base64 ----------
  const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  function b58(bytes) {
    let n = 0n; for (const b of bytes) n = n * 256n + BigInt(b);
    let out = ''; while (n > 0n) { out = B58[Number(n % 58n)] + out; n /= 58n; }
    for (const b of bytes) { if (b === 0) out = '1' + out; else break; }
    return out;
  }
  const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const toB64 = (u8) => { let s = ''; for (const b of u8) s += String.fromCharCode(b); return btoa(s); };

  // ---------- HTTP ----------
  async function api(path, opts) {
    const r = await fetch(path, Object.assign({ headers: {} }, opts));
    let body = null;
    try { body = await r.json(); } catch (_) { /* empty */ }
    if (!r.ok) {
      const msg = body && body.message ? body.message : r.status + ' ' + r.statusText;
      const e = new Error(msg); e.status = r.status; e.code = body && body.error; throw e;
    }
    return body;
  }
  const post = (path, body, headers) => api(path, {
    method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, headers || {}), body: JSON.stringify(body),
  });

  // ---------- session (platform-issued, in the URL fragment) ----------
  (function takeSession() {
    const m = /(?:^#|&)session=([0-9a-f]{64})/.exec(location.hash);
    if (m) {
      sessionStorage.setItem('stk.session', m[1]);
      history.replaceState(null, '', location.pathname + location.search + '#/member');
    }
  })();
  const sessionToken = () => sessionStorage.getItem('stk.session');

  // ---------- Wallet Standard ----------
  const wallets = [];
  const state = { wallet: null, account: null, economy: null };
  function register(...ws) {
    for (const w of ws) {
      if (w && w.features && w.features['standard:connect'] && !wallets.includes(w)) wallets.push(w);
    }
    renderWallets();
    return () => { for (const w of ws) { const i = wallets.indexOf(w); if (i >= 0) wallets.splice(i, 1); } };
  }
  const appApi = Object.freeze({ register });
  window.addEventListener('wallet-standard:register-wallet', (ev) => {
    try { if (typeof ev.detail === 'function') ev.detail(appApi); } catch (e) { console.error(e); }
  });
  try { window.dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: appApi })); } catch (e) { console.error(e); }

  let choosing = false;
  function renderWallets() {
    const box = $('wallets');
    if (!choosing) { box.hidden = true; return; }
    box.hidden = false;
    box.replaceChildren(el('span', { text: t('choose_wallet') }),
      ...wallets.map((w) => el('button', { type: 'button', onclick: () => connect(w) },
        w.icon && /^data:image\/(svg\+xml|png|webp);base64,/.test(w.icon) ? el('img', { src: w.icon, alt: '', width: 20, height: 20 }) : null,
        ' ', String(w.name))));
  }
  async function connect(w) {
    choosing = false; renderWallets();
    try {
      const out = await w.features['standard:connect'].connect();
      const accounts = (out && out.accounts) || w.accounts;
      if (!accounts || !accounts.length) throw new Error('no account');
      state.wallet = w; state.account = accounts[0];
      renderHeader(); route();
    } catch (e) { say(t('failed', e.message), 'error'); }
  }
  function onConnect() {
    if (!wallets.length) { say(t('no_wallet'), 'error'); return; }
    if (wallets.length === 1) { connect(wallets[0]); return; }
    choosing = true; renderWallets();
  }
  const address = () => state.account && state.account.address;

  async function signMessage(text) {
    const f = state.wallet.features['solana:signMessage'];
    if (!f) throw new Error('the wallet cannot sign messages');
    const [out] = await f.signMessage({ account: state.account, message: new TextEncoder().encode(text) });
    return b58(out.signature);
  }
  // Signs the server-built transaction with the wallet; sends it through this service (signTransaction)
  // or lets the wallet send it (signAndSendTransaction). Returns the signature.
  async function signAndSend(b64) {
    const tx = fromB64(b64);
    const chain = (state.account.chains && state.account.chains[0]) || 'solana:mainnet';
    const f = state.wallet.features;
    if (f['solana:signTransaction']) {
      const [out] = await f['solana:signTransaction'].signTransaction({ account: state.account, transaction: tx, chain });
      const sent = await post('/v1/tx/send', { transaction: toB64(out.signedTransaction) });
      return sent.signature;
    }
    if (f['solana:signAndSendTransaction']) {
      const [out] = await f['solana:signAndSendTransaction'].signAndSendTransaction({ account: state.account, transaction: tx, chain });
      return b58(out.signature);
    }
    throw new Error('the wallet cannot sign transactions');
  }

  // ---------- layout ----------
  const PAGES = [
    ['member', 'nav_member'], ['sell', 'nav_sell'], ['access', 'nav_access'],
    ['investor', 'nav_investor'], ['economy', 'nav_economy'], ['epochs', 'nav_epochs'],
  ];
  function current() {
    const m = /^#\/([a-z]+)/.exec(location.hash);
    if (m && PAGES.some((p) => p[0] === m[1])) return m[1];
    return params.get('member') || sessionToken() ? 'member' : 'economy';
  }
  function renderHeader() {
    document.documentElement.lang = lang;
    $('skip').textContent = t('skip');
    $('lang-label').textContent = t('language');
    $('lang').value = lang;
    $('nav').setAttribute('aria-label', t('pages'));
    const page = current();
    $('nav').replaceChildren(...PAGES.map(([id, key]) => el('a', {
      href: '#/' + id, 'aria-current': id === page ? 'page' : null, text: t(key),
    })));
    $('connect').textContent = address() ? t('connected', short(address())) : t('connect');
    $('foot').textContent = t('foot');
  }
  let renderId = 0;
  async function route() {
    const id = ++renderId;
    renderHeader();
    const main = $('main');
    const page = current();
    const title = t(PAGES.find((p) => p[0] === page)[1]);
    document.title = title + ' — SysTok';
    main.replaceChildren(el('h1', { text: title }), el('p', { class: 'hint', text: t('loading') }));
    try {
      const content = await PAGE[page]();
      if (id !== renderId) return;
      main.replaceChildren(el('h1', { text: title }), ...content);
    } catch (e) {
      if (id !== renderId) return;
      main.replaceChildren(el('h1', { text: title }), el('p', { class: 'error', role: 'alert', text: e.code === 'no_cluster' ? t('no_cluster') : t('failed', e.message) }));
    }
  }

  // ---------- widgets ----------
  const cards = (pairs) => el('dl', { class: 'cards' }, pairs.map(([k, v, cls]) => el('div', { class: 'card' }, el('dt', { text: k }), el('dd', { class: cls || null, text: v }))));
  function barChart(labelText, bars, colors) {
    // bars: [{label, values: [number...]}]; stacked.
    const W = 640, H = 220, pad = 36;
    const max = Math.max(1, ...bars.map((b) => b.values.reduce((a, v) => a + v, 0)));
    const bw = bars.length ? (W - pad - 8) / bars.length : 0;
    const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': labelText });
    g.append(svg('title', { text: labelText }));
    g.append(svg('line', { x1: pad, y1: H - 24, x2: W - 4, y2: H - 24, stroke: '#475569' }));
    g.append(svg('text', { x: 2, y: 14, text: stk(Math.round(max)) }));
    bars.forEach((b, i) => {
      let y = H - 24;
      b.values.forEach((v, j) => {
        const h = (v / max) * (H - 48);
        y -= h;
        g.append(svg('rect', { x: pad + i * bw + 2, y, width: Math.max(1, bw - 4), height: Math.max(0, h), fill: colors[j] },
          svg('title', { text: b.label + ': ' + stk(v) })));
      });
      if (bars.length <= 24 || i % Math.ceil(bars.length / 24) === 0) {
        g.append(svg('text', { x: pad + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle', text: b.label }));
      }
    });
    return g;
  }
  function field(id, label, input) {
    input.id = id;
    return el('div', { class: 'field' }, el('label', { for: id, text: label }), input);
  }
  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el('a', { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  const enc = encodeURIComponent;

  async function economy() {
    state.economy = await api('/v1/economy');
    return state.economy;
  }
  async function walletState(w) {
    return api('/v1/wallets/' + enc(w) + '/state');
  }
  function needWallet() {
    return el('div', { class: 'panel' }, el('p', { text: t('connect_first') }),
      el('button', { type: 'button', class: 'primary', onclick: onConnect, text: t('connect') }));
  }
  async function runTx(button, out, build, after) {
    button.disabled = true;
    out.replaceChildren(el('p', { class: 'hint', text: t('loading') }));
    try {
      const action = await build();
      out.replaceChildren(el('p', { text: action.message }));
      let sig;
      try { sig = await signAndSend(action.transaction); } catch (e) { throw new Error(t('sign_rejected', e.message)); }
      const ws = await walletState(address());
      out.replaceChildren(el('div', { class: 'result', role: 'status' },
        el('p', { text: after ? after(sig) : t('sent_ok', sig) }),
        el('p', { text: t('new_balance', stk(ws.stk), units(ws.quote, (state.economy || {}).quote_decimals || 6)) })));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert', text: t('failed', e.message) }));
    } finally { button.disabled = false; }
  }

  // ---------- receipts in words ----------
  function reason(r) {
    if (r === null || r === undefined) return '';
    if (typeof r === 'string') {
      const k = 'reason_' + r;
      return (T[lang][k] || T.en[k]) ? t(k) : r.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    }
    return Object.keys(r).map((k) => k.replace(/_/g, ' ') + (typeof r[k] === 'object' ? '' : ' ' + r[k])).join(', ');
  }
  function explain(r) {
    const out = [];
    const p = (text) => out.push(el('p', { text }));
    const counted = r.counted || [];
    p(t('r_counted', counted.length));
    out.push(el('ul', {}, counted.map((c) => {
      const extra = c.evidence_bps !== undefined
        ? t('r_evidence', reason(c.evidence), times(c.evidence_bps))
        : (c.confirmation_points ? t('r_conf', points(c.confirmation_points), c.confirmations_counted || 0) : '');
      const by = Array.isArray(c.confirmations) && c.confirmations.length ? t('r_confirmed_by', c.confirmations.join(', ')) : '';
      return el('li', { text: t('r_event', c.id, c.kind, points(c.base_points), extra, times(c.factor_bps || 10000), points(c.diminished_points ?? c.points ?? 0)) + by });
    })));
    const dropped = r.dropped || [];
    if (dropped.length) {
      p(t('r_dropped', dropped.length));
      out.push(el('ul', {}, dropped.map((d) => el('li', { text: t('r_drop', d.id, d.kind, reason(d.reason), d.points > 0 ? t('r_would', points(d.points)) : '') }))));
    }
    if (Array.isArray(r.caps_hit) && r.caps_hit.length) {
      p(t('r_caps'));
      out.push(el('ul', {}, r.caps_hit.map((c) => el('li', { text: t('r_cap', c.kind, reason(c.reason), c.events) }))));
    }
    if (Array.isArray(r.confirmations_received) || Array.isArray(r.confirmations_given)) {
      p(t('r_confirmations', (r.confirmations_received || []).length, (r.confirmations_given || []).length));
    }
    if (r.raw_points !== undefined) p(t('r_raw', points(r.raw_points)));
    if (r.spread_multiplier_bps !== undefined) p(t('r_spread', times(r.spread_multiplier_bps), r.active_days, r.epoch_days));
    if (r.consistency_multiplier_bps !== undefined) p(t('r_consistency', times(r.consistency_multiplier_bps)));
    if (r.tenure_epochs !== undefined) p(t('r_tenure', r.tenure_epochs));
    if (r.capped_points !== undefined) p(t('r_capped', points(r.capped_points), r.ceiling_hit ? t('r_ceiling') : ''));
    if (r.score !== undefined) p(t('r_score', points(r.score)));
    p(r.qualified ? t('r_qualified') : t('r_not_qualified'));
    if (r.amount !== undefined) p(t('r_amount', stk(r.amount)));
    return out;
  }

  // ---------- pages ----------
  const PAGE = {};

  PAGE.member = async () => {
    let session = null;
    if (sessionToken()) {
      try { session = await api('/v1/session', { headers: { 'X-Member-Session': sessionToken() } }); } catch (_) { sessionStorage.removeItem('stk.session'); }
    }
    const id = params.get('member') || (session && session.member);
    const openForm = el('form', { class: 'panel row', onsubmit: (ev) => {
      ev.preventDefault();
      const v = $('member-id').value.trim();
      if (v) { location.search = '?member=' + enc(v) + (params.get('lang') ? '&lang=' + enc(lang) : ''); }
    } }, field('member-id', t('member_id'), el('input', { type: 'text', maxlength: 128, autocomplete: 'off', value: id || '' })),
    el('button', { type: 'submit', text: t('open') }));
    if (!id) return [el('p', { text: t('member_hint') }), openForm];
    const m = await api('/v1/members/' + enc(id) + '?limit=24');
    const out = [cards([
      [t('member_id'), m.id], [t('status'), m.status === 'active' ? t('st_active') : t('st_inactive')], [t('wallet'), m.wallet || t('none'), m.wallet ? 'mono' : null],
    ])];

    // Binding
    const bindBox = el('section', { class: 'panel', 'aria-labelledby': 'bind-h' }, el('h2', { id: 'bind-h', text: t('bind_title') }));
    if (m.wallet && m.wallet === address()) {
      bindBox.append(el('p', { class: 'result', text: t('already_bound') }));
    } else if (!session || session.member !== m.id) {
      bindBox.append(el('p', { text: t('session_none') }));
    } else {
      bindBox.append(el('p', { class: 'hint', text: t('session_for', session.member, date(session.expires_at)) }), el('p', { text: t('bind_hint') }));
      if (!address()) bindBox.append(needWallet());
      else if (m.wallet === address()) bindBox.append(el('p', { class: 'result', text: t('already_bound') }));
      else {
        const result = el('div', { 'aria-live': 'polite' });
        const b = el('button', { type: 'button', class: 'primary', id: 'bind', text: t('bind') });
        b.addEventListener('click', async () => {
          b.disabled = true;
          try {
            const h = { 'X-Member-Session': sessionToken() };
            const ch = await api('/v1/session/wallet/challenge?wallet=' + enc(address()), { headers: h });
            const signature = await signMessage(ch.message);
            const bound = await post('/v1/session/wallet', { wallet: address(), nonce: ch.nonce, signature }, h);
            say(t('bound_ok', short(bound.wallet), bound.id), 'ok');
            route();
          } catch (e) {
            result.replaceChildren(el('p', { class: 'error', role: 'alert', text: t('failed', e.message) }));
            b.disabled = false;
          }
        });
        bindBox.append(b, result);
      }
    }
    out.push(bindBox);

    // Balance
    const w = m.wallet || address();
    if (w) {
      try {
        const ws = await walletState(w);
        const e = state.economy || await economy();
        out.push(el('h2', { text: t('balance') }), cards([
          [t('stk'), stk(ws.stk)], [t('quote'), units(ws.quote, e.quote_decimals)], [t('sol'), units(ws.lamports, 9)],
          [t('access_total'), stk(ws.total_access_paid)],
        ]));
      } catch (e) { out.push(el('p', { class: 'hint', text: e.code === 'no_cluster' ? t('no_cluster') : t('failed', e.message) })); }
    }

    // Rewards chart + receipts
    const epochs = (m.epochs || []).slice().reverse();
    out.push(el('h2', { text: t('rewards') }));
    const paid = epochs.filter((e) => e.amount !== null && e.amount !== undefined);
    if (!paid.length) out.push(el('p', { text: t('rewards_none') }));
    else out.push(barChart(t('chart_rewards'), paid.map((e) => ({ label: String(e.epoch), values: [Number(e.amount)] })), ['#15803d']));
    out.push(el('h2', { text: t('receipts') }));
    let first = true;
    for (const e of m.epochs || []) {
      if (!e.receipt) { out.push(el('p', { class: 'hint', text: t('not_scored', e.epoch, e.events) })); continue; }
      out.push(el('details', { class: 'receipt', open: first }, el('summary', { text: t('epoch_n', e.epoch) + ' — ' + stk(e.amount || 0) + ' STK' }), explain(e.receipt)));
      first = false;
    }

    // Timeline
    out.push(el('h2', { text: t('timeline') }));
    const tbody = el('tbody');
    const table = el('div', { class: 'table-wrap' }, el('table', {}, el('caption', { class: 'hint', text: t('timeline') }),
      el('thead', {}, el('tr', {}, [t('t_at'), t('t_type'), t('t_epoch'), t('t_amount'), t('t_detail')].map((h) => el('th', { scope: 'col', text: h })))), tbody));
    let cursor = null;
    const more = el('button', { type: 'button', text: t('more') });
    const addRows = (items) => {
      for (const it of items) {
        const amount = it.amount !== undefined ? stk(it.amount) + ' STK' : (it.score !== undefined ? points(it.score) : '');
        const detail = [it.kind, it.id, it.signature ? short(it.signature) : null].filter(Boolean).join(' · ');
        tbody.append(el('tr', {}, el('td', { text: date(it.at) }), el('td', { text: t('ty_' + it.type) }),
          el('td', { text: it.epoch ?? '' }), el('td', { text: amount }), el('td', { class: 'mono', text: detail })));
      }
    };
    const loadPage = async () => {
      const tl = await api('/v1/members/' + enc(m.id) + '/timeline?limit=20' + (cursor ? '&cursor=' + enc(cursor) : ''));
      addRows(tl.items); cursor = tl.next_cursor; more.hidden = !cursor;
    };
    more.addEventListener('click', () => loadPage().catch((e) => say(t('failed', e.message), 'error')));
    await loadPage();
    const all = async () => {
      const items = []; let c = null; let pages = 0;
      do {
        const tl = await api('/v1/members/' + enc(m.id) + '/timeline?limit=500' + (c ? '&cursor=' + enc(c) : ''));
        items.push(...tl.items); c = tl.next_cursor; pages += 1;
      } while (c && pages < 200);
      return items;
    };
    const csvCell = (v) => {
      let s = v === undefined || v === null ? '' : String(v);
      if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // no formulas in spreadsheets
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    const exp = (kind) => async () => {
      try {
        const items = await all();
        if (kind === 'json') download(m.id + '-timeline.json', 'application/json', JSON.stringify({ member: m.id, items }, null, 2));
        else {
          const cols = ['type', 'at', 'epoch', 'id', 'kind', 'score', 'amount', 'quote_amount', 'signature', 'slot'];
          download(m.id + '-timeline.csv', 'text/csv', [cols.join(','), ...items.map((i) => cols.map((c) => csvCell(i[c])).join(','))].join('\n') + '\n');
        }
        say(t('exported', items.length), 'ok');
      } catch (e) { say(t('failed', e.message), 'error'); }
    };
    out.push(table, el('div', { class: 'row' }, more,
      el('button', { type: 'button', id: 'export-json', onclick: exp('json'), text: t('export_json') }),
      el('button', { type: 'button', id: 'export-csv', onclick: exp('csv'), text: t('export_csv') })));
    out.push(openForm);
    return out;
  };

  PAGE.sell = async () => {
    // The buyback is a pro-rata tender window announced by rule: the floor, the most the next window
    // may pay and buy with, then the open window's terms (as its Action describes them).
    const e = await economy();
    const q = (v) => units(v, e.quote_decimals);
    const out = [];
    const pairs = [[t('floor_price'), q(e.floor_price)], [t('rule_price'), q(e.buyback_rule_price)], [t('rule_capacity'), q(e.next_window_capacity)]];
    if (address()) {
      const ws = await walletState(address());
      pairs.push([t('stk'), stk(ws.stk)]);
    }
    out.push(cards(pairs));
    if (!address()) { out.push(needWallet()); return out; }
    // Pro-rata tender window: the window's terms as the Action describes them, an order, a claim.
    const tw = await api('/api/actions/place-order');
    const tAmount = el('input', { type: 'text', inputmode: 'decimal', value: '1', maxlength: 24, autocomplete: 'off' });
    const tResult = el('div', { 'aria-live': 'polite' });
    const tPlace = el('button', { type: 'submit', class: 'primary', id: 'place-order', text: t('place_order'), disabled: !!tw.disabled });
    const tClaim = el('button', { type: 'button', id: 'claim-order', text: t('claim_order') });
    tClaim.addEventListener('click', () => runTx(tClaim, tResult, () => post('/api/actions/claim-order', { account: address() })));
    out.push(el('h2', { text: t('tender_title') }));
    out.push(el('form', { class: 'panel', onsubmit: (ev) => {
      ev.preventDefault();
      const a = parseUnits(tAmount.value, 6);
      if (!a || a <= 0n) { tResult.textContent = t('invalid_amount'); return; }
      runTx(tPlace, tResult, () => post('/api/actions/place-order?amount=' + enc(tAmount.value.trim().replace(',', '.')), { account: address() }));
    } }, el('p', { id: 'tender-terms', text: tw.description }), el('p', { text: t('tender_note') }),
      el('div', { class: 'row' }, field('order-amount', t('amount_stk'), tAmount), tPlace, tClaim), tResult));
    return out;
  };

  PAGE.access = async () => {
    // The plans on chain, priced at the current floor by the service (the program's own function).
    const all = await api('/v1/access/plans');
    const q = (v) => units(v, all.quote_decimals);
    const plans = all.plans.filter((p) => p.price !== null);
    const out = [el('h2', { text: t('plans') })];
    out.push(el('p', { id: 'plan-floor', text: all.floor_price === null ? t('no_floor') : t('plan_floor', q(all.floor_price)) }));
    const list = el('fieldset', { class: 'panel' }, el('legend', { text: t('plan') }));
    plans.forEach((p, i) => {
      const id = 'plan-' + p.id;
      list.append(el('div', {}, el('input', { type: 'radio', name: 'plan', id, value: p.id, checked: i === 0 }), ' ',
        el('label', { for: id, text: t('plan_row', p.days, stk(p.price), q(p.fiat_price), units(p.discount_bps, 2)) })));
    });
    if (!plans.length) { out.push(el('p', { text: t('no_plans') })); return out; }
    if (!address()) { out.push(list, needWallet()); return out; }
    const ws = await walletState(address());
    out.push(cards([[t('stk'), stk(ws.stk)], [t('access_total'), stk(ws.total_access_paid)]]));
    const result = el('div', { 'aria-live': 'polite' });
    const b = el('button', { type: 'submit', class: 'primary', id: 'pay', text: t('pay') });
    const form = el('form', { onsubmit: (ev) => {
      ev.preventDefault();
      const chosen = form.querySelector('input[name=plan]:checked');
      const p = plans.find((x) => String(x.id) === chosen.value);
      let reference = '';
      runTx(b, result, async () => {
        // The platform may pass its order reference in the page's address (`?reference=`).
        const ref = (params.get('reference') || '').slice(0, 80);
        const a = await post('/api/actions/pay-access?plan=' + enc(p.id) + (ref ? '&reference=' + enc(ref) : ''), { account: address() });
        const m = /reference ([0-9a-f]{64})/.exec(a.message); reference = m ? m[1] : '';
        return a;
      }, (sig) => t('receipt_access', p.id, p.days, stk(p.price), short(reference), sig));
    } }, list, b, result);
    out.push(form);
    return out;
  };

  PAGE.investor = async () => {
    const e = await economy();
    const q = (v) => units(v, e.quote_decimals);
    const pct = (bps) => (bps / 100).toLocaleString(locale(), { maximumFractionDigits: 2 }) + ' %';
    const pairs = [[t('allowlist'), e.investor_allowlist ? t('allow_on') : t('allow_off')], [t('floor_price'), q(e.floor_price)], [t('premium_price'), q(e.premium_price)],
      [t('vault_share'), pct(e.premium_vault_share_bps)], [t('alloc_left'), stk(e.investor_allocation_remaining)]];
    if (!address()) return [cards(pairs), needWallet()];
    const ws = await walletState(address());
    pairs.push([t('you_allowed'), ws.investor_allowed ? t('yes') : t('no')], [t('quote'), q(ws.quote)], [t('stk'), stk(ws.stk)]);
    const amount = el('input', { type: 'text', inputmode: 'decimal', value: '1', maxlength: 24, autocomplete: 'off' });
    const maxp = el('input', { type: 'text', inputmode: 'decimal', value: units(e.premium_price, e.quote_decimals).replace(/\s/g, '').replace(',', '.'), maxlength: 24, autocomplete: 'off' });
    const preview = el('p', { 'aria-live': 'polite' });
    const result = el('div', { 'aria-live': 'polite' });
    const update = () => {
      const a = parseUnits(amount.value, 6); const mp = parseUnits(maxp.value, e.quote_decimals);
      if (!a || a <= 0n || mp === null) { preview.textContent = t('invalid_amount'); return null; }
      const now = (a * BigInt(e.premium_price) + 999999n) / 1000000n;
      const max = (a * mp + 999999n) / 1000000n;
      preview.textContent = t('buy_preview', q(now.toString()), q(max.toString()));
      return { a, max };
    };
    amount.addEventListener('input', update); maxp.addEventListener('input', update); update();
    const b = el('button', { type: 'submit', class: 'primary', id: 'buy', text: t('buy'), disabled: !ws.investor_allowed });
    const form = el('form', { class: 'panel', onsubmit: (ev) => {
      ev.preventDefault();
      const v = update(); if (!v) return;
      runTx(b, result, () => post('/api/actions/buy-premium?amount=' + enc(amount.value.trim().replace(',', '.')) + '&max_quote_in=' + v.max.toString(), { account: address() }));
    } }, el('div', { class: 'row' }, field('buy-amount', t('amount_stk'), amount), field('buy-max', t('max_price'), maxp), b), preview, result);
    return [cards(pairs), form];
  };

  PAGE.economy = async () => {
    const out = [];
    const list = await api('/v1/epochs?limit=24');
    let e = null;
    try { e = await economy(); } catch (err) { out.push(el('p', { class: 'hint', text: err.code === 'no_cluster' ? t('no_cluster') : t('failed', err.message) })); }
    if (e) {
      const q = (v) => units(v, e.quote_decimals);
      out.push(cards([
        [t('supply'), stk(e.supply)], [t('max_supply'), stk(e.max_supply)], [t('distributed'), stk(e.total_distributed)],
        [t('premium_minted'), stk(e.total_premium_minted)], [t('burned'), stk(e.total_burned_sell_back + e.total_burned_access)],
        [t('vault'), q(e.vault)],
        [t('treasury'), q(e.treasury)], [t('floor_price'), q(e.floor_price)], [t('rule_price'), q(e.buyback_rule_price)], [t('premium_price'), q(e.premium_price)],
      ]));
      out.push(el('h2', { text: t('burn_split') }), barChart(t('chart_burned'), [
        { label: t('burned_sell'), values: [e.total_burned_sell_back] }, { label: t('burned_access'), values: [e.total_burned_access] },
      ], ['#b45309']));
    }
    const epochs = (list.epochs || []).slice().reverse();
    out.push(el('h2', { text: t('per_epoch') }), barChart(t('chart_epochs'), epochs.map((x) => ({ label: String(x.epoch), values: [Number(x.total_amount || 0)] })), ['#15803d']));
    return out;
  };

  PAGE.epochs = async () => {
    const tbody = el('tbody');
    const table = el('div', { class: 'table-wrap' }, el('table', {}, el('caption', { class: 'hint', text: t('epochs_title') }),
      el('thead', {}, el('tr', {}, ['#', t('e_state'), t('e_period'), t('e_events'), t('e_amount'), t('e_root'), t('e_att'), t('e_log')].map((h) => el('th', { scope: 'col', text: h })))), tbody));
    let cursor = null;
    const more = el('button', { type: 'button', text: t('more') });
    const load = async () => {
      const list = await api('/v1/epochs?limit=12' + (cursor ? '&cursor=' + enc(cursor) : ''));
      for (const x of list.epochs) {
        const att = el('td', { text: '—' }); const root = el('td', { class: 'mono', text: '—' });
        const logCell = el('td');
        if (x.state !== 'open' && x.state !== 'frozen') logCell.append(el('a', { href: '/v1/epochs/' + x.epoch + '/log', text: t('log_link', x.epoch) }));
        tbody.append(el('tr', {}, el('td', { text: x.epoch }), el('td', { text: T.en['state_' + x.state] ? t('state_' + x.state) : x.state }), el('td', { text: date(x.starts_at) + ' – ' + date(x.ends_at) }),
          el('td', { text: x.events }), el('td', { text: x.total_amount === null ? '—' : stk(x.total_amount) }), root, att, logCell));
        if (x.state !== 'open' && x.state !== 'frozen') {
          api('/v1/epochs/' + x.epoch + '/attestations').then((a) => {
            if (a.root) { root.textContent = short(a.root); root.title = a.root; }
            if (a.chain) {
              const yes = a.chain.oracles.filter((o) => o.approved).length;
              att.replaceChildren(el('span', { text: t('att_of', yes, a.chain.oracles.length, a.chain.threshold) + (a.chain.finalized ? ', ' + t('finalized') : '') }),
                el('ul', { class: 'plain mono' }, a.chain.oracles.map((o) => el('li', { text: (o.approved ? '✓ ' : '✗ ') + short(o.oracle) }))));
            }
          }).catch(() => {});
        }
      }
      cursor = list.next_cursor; more.hidden = !cursor;
    };
    more.addEventListener('click', () => load().catch((e) => say(t('failed', e.message), 'error')));
    await load();
    return [table, more];
  };

  // ---------- start ----------
  $('lang').addEventListener('change', () => {
    lang = $('lang').value; localStorage.setItem('stk.lang', lang); say(''); route();
  });
  $('connect').addEventListener('click', onConnect);
  // The skip link moves focus without touching the route in the hash.
  $('skip').addEventListener('click', (ev) => { ev.preventDefault(); $('main').focus(); });
  window.addEventListener('hashchange', () => { say(''); route(); $('main').focus(); });
  route();
})();
