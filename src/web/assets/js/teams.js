// Admin page for the multidisciplinary team (issue 20 items 2 and 3): each department's care
// team (members by discipline, one lead) and the duty shifts that say who of a discipline is on
// when (hospital time, weekday pattern, holidays). Every change is audited by the server.
import { api } from './api.js';
import { t } from './i18n.js';
import { $, html, raw, bi, toast, failure } from './ui.js';

const HOLIDAYS = ['skip', 'also', 'only'];

export async function mount(view, ctx) {
  view.innerHTML = html`<div class="columns">
    <section class="card" aria-labelledby="teams-title"><h2 id="teams-title">${t('teams.title')}</h2>
      <div id="teams"></div>
      <form id="new-team" class="inline"><h3>${t('teams.new')}</h3>
        <label>${t('admin.department')} <select name="department" id="team-dept" required></select></label>
        <label>${t('teams.name_zh')} <input name="name_zh" required></label>
        <label>${t('teams.name_en')} <input name="name_en" required></label>
        <label>${t('teams.pathway')} <input name="pathway"></label>
        <button type="submit">${t('admin.create')}</button></form></section>
    <section class="card" aria-labelledby="shifts-title"><h2 id="shifts-title">${t('teams.shifts')}</h2>
      <table id="shifts-table"><thead><tr><th scope="col">${t('teams.member')}</th><th scope="col">${t('teams.discipline')}</th>
        <th scope="col">${t('teams.weekdays')}</th><th scope="col">${t('teams.hours')}</th><th scope="col">${t('teams.holidays')}</th><th></th></tr></thead><tbody></tbody></table>
      <form id="new-shift" class="inline"><h3>${t('teams.add_shift')}</h3>
        <label>${t('teams.member')} <select name="user_id" id="shift-user" required></select></label>
        <label>${t('teams.weekdays')} <input name="weekdays" value="mon-fri" required></label>
        <label>${t('teams.start')} <input name="start" type="time" value="08:00" required></label>
        <label>${t('teams.end')} <input name="end" type="time" value="17:30" required></label>
        <label>${t('teams.holidays')} <select name="holidays">${HOLIDAYS.map((h) => raw(html`<option value="${h}">${t('holidays.' + h)}</option>`))}</select></label>
        <button type="submit">${t('teams.add')}</button></form></section></div>`;
  const clinicians = [...ctx.staff.values()].filter((u) => u.role === 'doctor' || u.role === 'nurse');
  const people = (sel) => sel.map((u) => html`<option value="${u.id}">${u.display_name}${u.discipline ? ' · ' + u.discipline : ''}</option>`).join('');
  $('#shift-user', view).innerHTML = people(clinicians);
  const depts = await api('GET', '/departments').catch(() => ({ items: [] }));
  $('#team-dept', view).innerHTML = depts.items.map((d) => html`<option value="${d.code}">${bi({ zh: d.name_zh, en: d.name_en })}</option>`).join('');
  let names = new Map();
  const discipline = (code) => (names.get(code) ? bi(names.get(code)) : code);

  const load = async () => {
    try {
      const [r, s] = await Promise.all([api('GET', '/care-teams'), api('GET', '/duty-shifts')]);
      names = new Map(r.disciplines.map((d) => [d.code, { zh: d.zh, en: d.en }]));
      const options = r.disciplines.map((d) => raw(html`<option value="${d.code}">${bi(d)}</option>`));
      $('#teams', view).innerHTML = r.care_teams.length ? r.care_teams.map((team) => html`<div class="care-team" data-team="${team.id}">
        <h3>${bi({ zh: team.name_zh, en: team.name_en })} <small>${team.department}${team.pathway ? ' · ' + team.pathway : ''}</small></h3>
        <table class="members"><thead><tr><th scope="col">${t('teams.member')}</th><th scope="col">${t('teams.discipline')}</th><th scope="col">${t('teams.lead')}</th><th></th></tr></thead>
        <tbody>${team.members.map((m) => raw(html`<tr data-user="${m.user_id}" data-discipline="${m.discipline}" class="${m.active ? '' : 'muted'}"><td>${m.display_name}</td><td>${discipline(m.discipline)}</td>
          <td>${m.lead ? t('teams.lead') : ''}</td><td><button type="button" data-action="remove">${t('teams.remove')}</button></td></tr>`))}</tbody></table>
        <form class="add-member inline"><label>${t('teams.member')} <select name="user">${raw(people(clinicians))}</select></label>
          <label>${t('teams.discipline')} <select name="discipline">${options}</select></label>
          <label><input type="checkbox" name="lead"> ${t('teams.lead')}</label>
          <button type="submit">${t('teams.add_member')}</button></form></div>`).join('')
        : html`<p class="muted">${t('teams.none')}</p>`;
      $('#shifts-table tbody', view).innerHTML = s.shifts.map((x) => html`<tr data-shift="${x.id}"><td>${x.display_name}</td><td>${discipline(x.discipline)}</td>
        <td>${x.weekdays}</td><td>${x.start.slice(0, 5)}–${x.end.slice(0, 5)}</td><td>${t('holidays.' + x.holidays)}</td>
        <td><button type="button" data-action="remove-shift">${t('teams.remove')}</button></td></tr>`).join('');
    } catch (e) { $('#teams', view).innerHTML = html`<p class="error">${failure(e, t('teams.title'))}</p>`; }
  };

  $('#teams', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const team = e.target.closest('[data-team]').dataset.team;
    const f = new FormData(e.target);
    try {
      await api('PUT', `/care-teams/${team}/members/${f.get('user')}`, { discipline: f.get('discipline'), lead: f.get('lead') === 'on' });
      toast('✓', 'ok');
      await load();
    } catch (err) { toast(failure(err, t('teams.add_member')), 'error'); }
  });
  $('#teams', view).addEventListener('click', async (e) => {
    if (e.target.dataset.action !== 'remove') return;
    const team = e.target.closest('[data-team]').dataset.team;
    try { await api('DELETE', `/care-teams/${team}/members/${e.target.closest('tr').dataset.user}`); toast('✓', 'ok'); await load(); } catch (err) { toast(failure(err, t('teams.remove')), 'error'); }
  });
  $('#new-team', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target).entries());
    if (!f.pathway) delete f.pathway;
    try { await api('POST', '/care-teams', f); e.target.reset(); toast('✓', 'ok'); await load(); } catch (err) { toast(failure(err, t('teams.new')), 'error'); }
  });
  $('#shifts-table', view).addEventListener('click', async (e) => {
    if (e.target.dataset.action !== 'remove-shift') return;
    try { await api('DELETE', `/duty-shifts/${e.target.closest('tr').dataset.shift}`); toast('✓', 'ok'); await load(); } catch (err) { toast(failure(err, t('teams.shifts')), 'error'); }
  });
  $('#new-shift', view).addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target).entries());
    try {
      await api('POST', '/duty-shifts', { ...f, user_id: Number(f.user_id) });
      toast('✓', 'ok');
      await load();
    } catch (err) { toast(failure(err, t('teams.add_shift')), 'error'); }
  });
  await load();
}
