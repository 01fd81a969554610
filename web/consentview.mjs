// How a consent reads to its subject: who may read what, for what, until
// when, and whether it is still in force.

import * as g from './govuk.mjs';
import { t, tOr, formatTime } from './i18n.mjs';
import { consumerText, serviceText } from './format.mjs';

export { consumerText };

export function servicesText(services) {
  return (Array.isArray(services) ? services : [services]).map(serviceText).join(', ');
}

export function consentStatus(c) {
  const s = c.revoked_at ? 'revoked' : String(c.status || 'active');
  const colours = { active: 'green', revoked: 'grey', expired: 'yellow', pending: 'purple' };
  return g.tag(tOr(`con.status.${s}`, s), colours[s] || 'grey');
}

export function validity(c) {
  return t('con.valid.range', { from: formatTime(c.valid_from), to: formatTime(c.valid_to) });
}

export function isActive(c) {
  return !c.revoked_at && (c.status === undefined || c.status === 'active');
}
