// Node-RED settings for gridhub. `npm start` runs Node-RED with these settings as a supervised child
// process and passes everything below through GRIDHUB_* environment variables; docker-compose sets
// the same variables. See flows/README.md.
const path = require('node:path');

const env = (name, fallback) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
};

const hubUrl = env('GRIDHUB_URL', 'http://127.0.0.1:8080');
const EDITOR_ROLES = ['admin', 'street-duty'];
/** people who signed in to the editor in this process: Node-RED asks `users()` on every request */
const signedIn = new Map();

/**
 * Editor sign-in is checked against gridhub: the user name is the person id, the password is the
 * person's gridhub password; only the admin and street-duty roles may edit flows. Nobody is
 * anonymous (no `default` user).
 */
async function authenticate(username, password) {
  if (typeof username !== 'string' || typeof password !== 'string') return null;
  try {
    const res = await fetch(`${hubUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) return null;
    const session = await res.json();
    // The editor keeps its own session; end the hub one at once.
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    await fetch(`${hubUrl}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': session.csrf },
    }).catch(() => undefined);
    if (!session.me.roles.some((r) => EDITOR_ROLES.includes(r))) return null;
    const user = { username, permissions: '*', name: session.me.name };
    signedIn.set(username, user);
    return user;
  } catch {
    return null;
  }
}

module.exports = {
  uiHost: env('GRIDHUB_NODE_RED_HOST', '127.0.0.1'),
  uiPort: Number(env('GRIDHUB_NODE_RED_PORT', '1880')),
  userDir: env('GRIDHUB_NODE_RED_USER_DIR', path.join(__dirname, '..', 'data', 'node-red')),
  flowFile: env('GRIDHUB_NODE_RED_FLOW_FILE', path.join(__dirname, 'flows.json')),
  flowFilePretty: true,
  // Encrypts the credentials of flows (flows_cred.json). The hub generates one and keeps it in its
  // store when GRIDHUB_NODE_RED_CREDENTIAL_SECRET is not configured.
  credentialSecret: env('GRIDHUB_NODE_RED_CREDENTIAL_SECRET', false),
  // The project's own nodes: the gridhub palette category.
  nodesDir: [path.join(__dirname, 'nodes')],
  adminAuth: {
    type: 'credentials',
    sessionExpiryTime: 8 * 3600,
    users: async (username) => signedIn.get(username) ?? null,
    authenticate,
  },
  diagnostics: { enabled: false, ui: false },
  telemetry: { enabled: false, updateNotification: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  functionExternalModules: false,
  editorTheme: {
    projects: { enabled: false },
    tours: false,
    header: { title: 'gridhub · Node-RED' },
    palette: { catalogues: [] },
  },
  logging: { console: { level: env('GRIDHUB_NODE_RED_LOG_LEVEL', 'info'), metrics: false, audit: false } },
  exportGlobalContextKeys: false,
  functionGlobalContext: {},
};
