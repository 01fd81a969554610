// What several pages of a gateway's console share: the maintenance
// state as a tag, a list of words joined for a table cell, a form of one
// button that runs an action.

import { h } from '../dom.mjs';
import * as g from '../govuk.mjs';
import { t } from '../i18n.mjs';

export function maintenanceTag(m) {
  return m && m.on ? g.tag(t('gcon.maint.on'), 'orange') : g.tag(t('gcon.maint.off'), 'green');
}

export const joined = (list, sep = ', ') => ((list || []).length ? list.join(sep) : t('none'));

// A form of one button that runs action() (a call to the console's API
// whose answer the page shows once) and renders the page again.
export function actionForm({ id, text, buttonId, ctx, action }) {
  return h('form', {
    id,
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        await action();
        await ctx.rerender();
      },
    },
  }, g.button(text, { attrs: { id: buttonId } }));
}
