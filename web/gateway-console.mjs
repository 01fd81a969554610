// A gateway's web console (docs/gateway-console.md): its routes,
// navigation and pages (web/gwconsole/*.mjs) in the consoles' shared shell
// and router (consoleapp.mjs). The pages read the gateway's console API
// (/console/api/...) with the official's session; an administrator may
// switch maintenance mode, an auditor reads, runs a verify of the message
// log and the connection test.

import { startConsole } from './consoleapp.mjs';

startConsole({
  words: 'gcon',
  routes: [
    { path: '/', page: 'overview', nav: 'overview' },
    { path: '/services', page: 'services', nav: 'services' },
    { path: '/log', page: 'log', nav: 'log' },
    { path: '/maintenance', page: 'maintenance', nav: 'maintenance' },
    { path: '/peers', page: 'peers', nav: 'peers' },
  ],
  nav: ['overview', 'services', 'log', 'maintenance', 'peers'],
  load: (page) => import(`./gwconsole/${page}.mjs`),
  canChange: (role) => role === 'administrator',
});
