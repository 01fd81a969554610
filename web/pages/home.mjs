// The start page: what the portal does and the e-ID sign-in button. The
// portal's OIDC callback sends the browser back here with ?error= when the
// sign-in failed (docs/portal.md, "Citizen sign-in").

import * as api from '../api.mjs';
import * as g from '../govuk.mjs';
import { t, has } from '../i18n.mjs';

export async function render(ctx) {
  const nodes = [];
  const error = ctx.query.get('error');
  if (error) {
    const key = `home.error.${error}`;
    nodes.push(g.notificationBanner({
      title: t('home.error.title'),
      heading: has(key) ? t(key) : t('home.error.other'),
    }));
    nodes[0].id = 'login-error';
    nodes[0].setAttribute('role', 'alert');
  } else if (ctx.flash && ctx.flash.type === 'signed_out') {
    nodes.push(g.notificationBanner({ success: true, heading: t('home.signed_out') }));
  }
  nodes.push(g.heading(t('service.name'), 'xl'));
  nodes.push(g.lead(t('home.lead')));
  nodes.push(g.p(t('home.once')));
  const s = ctx.session;
  if (s.authenticated && s.kind === 'citizen') {
    nodes.push(g.p(t('home.signed_in', { name: s.name || '' })));
    nodes.push(g.linkButton('/profile', t('home.continue')));
  } else if (s.authenticated && s.kind === 'officer') {
    nodes.push(g.linkButton('/officer/queue', t('off.queue.title')));
  } else {
    nodes.push(g.startButton(api.signInUrl(), t('home.start')));
    nodes.push(g.p(g.link('/officer', t('home.officer_link'))));
  }
  return { title: t('home.title'), nodes };
}
