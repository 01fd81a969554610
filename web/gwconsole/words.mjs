// What several pages of a gateway's console show alike: the maintenance
// state as a tag, and a list of words joined for a table cell.

import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export function maintenanceTag(m) {
  return m && m.on ? g.tag(t('gcon.maint.on'), 'orange') : g.tag(t('gcon.maint.off'), 'green');
}

export const joined = (list, sep = ', ') => ((list || []).length ? list.join(sep) : t('none'));
