// The console's overview (docs/console.md): the signed configuration the
// registry serves now (version, when it was signed, when it expires) and
// how many members, subsystems, gateways, services and grants it holds.
// GET /api/overview.

import * as api from './rapi.mjs';
import * as g from '../govuk.mjs';
import { t, formatTime } from '../i18n.mjs';

export async function render() {
  const o = await api.get('/api/overview');
  const c = o.counts || {};
  return {
    title: t('con.overview.title'),
    nodes: [
      g.heading(t('con.overview.title')),
      g.summaryList([
        { key: t('con.overview.instance'), value: String(o.instance || '') },
        { key: t('con.overview.version'), value: String(o.conf_version) },
        { key: t('con.overview.generated'), value: formatTime(o.generated_at) },
        { key: t('con.overview.expires'), value: formatTime(o.expires_at) },
      ], { id: 'conf' }),
      g.heading(t('con.overview.counts'), 'm', 2),
      g.summaryList(['members', 'subsystems', 'gateways', 'services', 'grants'].map((k) => ({
        key: t(`con.count.${k}`), value: String(c[k] ?? 0),
      })), { id: 'counts' }),
    ],
  };
}
