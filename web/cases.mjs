// What the misuse case pages (web/pages/ops-cases.mjs, ops-case.mjs) share:
// a case's kind, state and reader in words. API: docs/portal.md "Misuse
// cases".

import * as g from './govuk.mjs';
import { t, tOr } from './i18n.mjs';
import * as ops from './ops.mjs';

export const STATES = ['open', 'escalated', 'confirmed', 'dismissed', 'all'];
export const KINDS = ['no-explanation', 'bulk', 'off-hours', 'unusual-province', 'repeated-subject', 'probing', 'replay', 'citizen-report'];
const STATE_COLOUR = { open: 'blue', escalated: 'orange', confirmed: 'red', dismissed: 'grey' };

export function kindName(kind) {
  return tOr(`case.kind.${kind}`, kind);
}

export function stateTag(state) {
  return g.tag(tOr(`case.state.${state}`, state), STATE_COLOUR[state] || 'grey');
}

// The officer's user name out of X-Road-UserId ({member}/{user}).
export function officerOf(userId) {
  if (!userId) return '';
  const parts = String(userId).split('/');
  return parts.length > 3 ? parts.slice(3).join('/') : String(userId);
}

// Who read: the reading system's agency and, for an officer, the user.
export function readerText(c) {
  const agency = ops.memberName(c.client_member || String(c.client || '').split('/').slice(0, 3).join('/'));
  const user = officerOf(c.user_id);
  return user ? t('case.reader.officer', { agency, user }) : t('case.reader.system', { agency, client: c.client || '' });
}
