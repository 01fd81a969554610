// A gateway's web console (docs/gateway-console.md): its routes,
// navigation and pages (web/gwconsole/*.mjs) in the consoles' shared shell
// and router (consoleapp.mjs). The pages read the gateway's console API
// (/console/api/...) with the official's session; an administrator may
// switch maintenance mode, an auditor reads, runs a verify of the message
// log and the connection test.

import { navRoutes, startConsole } from './consoleapp.mjs';

const NAV = ['overview', 'services', 'log', 'maintenance', 'peers'];

startConsole({
  words: 'gcon', routes: navRoutes(NAV), nav: NAV,
  load: (page) => import(`./gwconsole/${page}.mjs`),
  canChange: (role) => role === 'administrator',
});
