// The registry's web console (docs/console.md): its routes, navigation
// and pages (web/console/*.mjs) in the consoles' shared shell and router
// (consoleapp.mjs). Every page reads and changes the registry through its
// management API (/api/..., docs/registry-api.md) with the official's
// session; an operator may change, an auditor only read.

import { startConsole } from './consoleapp.mjs';

startConsole({
  words: 'con',
  routes: [
    { path: '/', page: 'overview', nav: 'overview' },
    { path: '/members', page: 'members', nav: 'members' },
    { path: '/services', page: 'services', nav: 'services' },
    { path: '/services/*', page: 'service', nav: 'services' },
    { path: '/grants', page: 'grants', nav: 'grants' },
    { path: '/grants/:id/remove', page: 'grant-remove', nav: 'grants' },
    { path: '/audit', page: 'audit', nav: 'audit' },
  ],
  nav: ['overview', 'members', 'services', 'grants', 'audit'],
  load: (page) => import(`./console/${page}.mjs`),
  canChange: (role) => role === 'operator',
});
