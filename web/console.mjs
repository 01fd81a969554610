// The registry's web console (docs/console.md): its routes, navigation
// and pages (web/console/*.mjs) in the consoles' shared shell and router
// (consoleapp.mjs). Every page reads and changes the registry through its
// management API (/api/..., docs/registry-api.md) with the official's
// session; what each role may do is the registry's to decide (docs/console.md
// "Roles"), the pages only leave out what it would refuse.

import { startConsole } from './consoleapp.mjs';

// The pages each role reads; the registry refuses the others' API calls
// with 403 whatever the page does.
const ALL = ['overview', 'members', 'services', 'grants', 'live-data', 'personal-data', 'consent-services',
  'gateways', 'keys', 'revocations', 'market', 'officials', 'audit'];
const NAV = {
  operator: ALL,
  auditor: ALL,
  agency: ALL.filter((k) => k !== 'officials' && k !== 'audit'),
  dpo: ['overview', 'services', 'personal-data', 'consent-services', 'audit'],
};

// What the signed-in official may change: the operator everything, an
// agency administrator the subsystems and services of their member and the
// grants on those services (id: the subsystem's, the service's, the grant's
// service), no one else anything.
function mayChange(me) {
  const own = (id) => !!(me.member && id && id.startsWith(`${me.member}/`));
  return (kind, id) => me.role === 'operator'
    || (me.role === 'agency' && ['subsystem', 'service', 'grant'].includes(kind) && own(id));
}

startConsole({
  words: 'con',
  routes: [
    { path: '/', page: 'overview', nav: 'overview' },
    { path: '/members', page: 'members', nav: 'members' },
    { path: '/services', page: 'services', nav: 'services' },
    { path: '/services/*', page: 'service', nav: 'services' },
    { path: '/grants', page: 'grants', nav: 'grants' },
    { path: '/grants/:id/remove', page: 'grant-remove', nav: 'grants' },
    { path: '/live-data', page: 'live-data', nav: 'live-data' },
    { path: '/personal-data', page: 'personal-data', nav: 'personal-data' },
    { path: '/consent-services', page: 'consent-services', nav: 'consent-services' },
    { path: '/gateways', page: 'gateways', nav: 'gateways' },
    { path: '/keys', page: 'keys', nav: 'keys' },
    { path: '/keys/rotate', page: 'rotate', nav: 'keys' },
    { path: '/revocations', page: 'revocations', nav: 'revocations' },
    { path: '/market', page: 'market', nav: 'market' },
    { path: '/officials', page: 'officials', nav: 'officials' },
    { path: '/remove/:kind', page: 'remove', nav: null },
    { path: '/audit', page: 'audit', nav: 'audit' },
  ],
  nav: (me) => NAV[me.role] || [],
  load: (page) => import(`./console/${page}.mjs`),
  canChange: (role) => role === 'operator',
  may: mayChange,
});
