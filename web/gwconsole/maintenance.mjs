// Maintenance mode (docs/gateway-console.md): its state, the switch for an
// administrator (POST /console/api/maintenance {on}), and the changes
// made in the console with the official who made each
// (GET /console/api/changes).

import * as api from '../console/rapi.mjs';
import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';
import { maintenanceTag } from './words.mjs';

export async function render(ctx) {
  const [m, { changes = [] }] = await Promise.all([
    api.get('/console/api/maintenance'), api.get('/console/api/changes')]);
  const nodes = [];
  if (ctx.flash) nodes.push(g.notificationBanner({ success: true, heading: ctx.flash.text }));
  nodes.push(g.heading(t('gcon.maint.title')));
  nodes.push(g.summaryList([
    { key: t('gcon.maint.state'), value: maintenanceTag(m) },
    ...(m.on ? [{ key: t('gcon.maint.since'), value: formatTime(m.since) }, { key: t('gcon.maint.by'), value: m.by }] : []),
  ], { id: 'maintenance' }));
  nodes.push(g.p(t('gcon.maint.body')));
  if (ctx.canChange) {
    nodes.push(h('form', {
      id: 'switch',
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const out = await api.post('/console/api/maintenance', { on: !m.on });
          await ctx.navigate(`${ctx.base}/maintenance`, {
            replace: true, flash: { text: t(out.on ? 'gcon.maint.switched_on' : 'gcon.maint.switched_off') },
          });
        },
      },
    }, g.button(t(m.on ? 'gcon.maint.turn_off' : 'gcon.maint.turn_on'), {
      variant: m.on ? undefined : 'warning', attrs: { id: 'toggle-maintenance' },
    })));
  } else {
    nodes.push(g.insetText(t('gcon.maint.read_only')));
  }
  nodes.push(changes.length ? g.table({
    id: 'changes', caption: t('gcon.changes.title'),
    head: [t('gcon.changes.time'), t('gcon.changes.actor'), t('gcon.changes.action')],
    rows: changes.map((c) => [formatTime(c.time), c.actor, t(`gcon.changes.${c.action}`)]),
  }) : g.p(t('gcon.changes.none')));
  return { title: t('gcon.maint.title'), nodes };
}
