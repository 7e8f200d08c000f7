// Node-RED settings for gridhub. `npm start` runs Node-RED with these settings as a supervised child
// process and passes everything below through GRIDHUB_* environment variables; docker-compose sets
// the same variables. See flows/README.md.
const path = require('node:path');

const env = (name, fallback) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
};

const hubUrl = env('GRIDHUB_URL', 'http://127.0.0.1:8080');
const streetDutyReadOnly = env('GRIDHUB_NODE_RED_STREET_DUTY_READ_ONLY', 'false') === 'true';
/** people who signed in to the editor in this process: Node-RED asks `users()` on every request */
const signedIn = new Map();

/**
 * Editor permissions by gridhub role. Deploying a flow is running code as the hub's user, so only
 * admins may (`*`); with `nodeRed.streetDutyReadOnly` street duty may look (`read`), never deploy.
 */
function permissionsOf(roles) {
  if (roles.includes('admin')) return '*';
  if (streetDutyReadOnly && roles.includes('street-duty')) return 'read';
  return null;
}

/**
 * Editor sign-in is checked against gridhub: the user name is the person id, the password is the
 * person's gridhub password. Nobody is anonymous (no `default` user).
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
    const permissions = permissionsOf(session.me.roles);
    if (!permissions) return null;
    const user = { username, permissions, name: session.me.name };
    signedIn.set(username, user);
    return user;
  } catch {
    return null;
  }
}

/**
 * The editor's http-in endpoints are not public: a caller sends a gridhub API token
 * (`Authorization: Bearer ghk_…`) of a person who may use the editor (admin, street duty), checked
 * against the hub on every request. Without it: 401.
 */
async function httpNodeAuth(req, res, next) {
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  const refuse = () => {
    res.set('WWW-Authenticate', 'Bearer realm="gridhub"');
    res
      .status(401)
      .json({ error: { code: 'GH_ERR_UNAUTHENTICATED', message: 'a gridhub API token is required' } });
  };
  if (!token) return refuse();
  try {
    const me = await fetch(`${hubUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!me.ok) return refuse();
    const who = await me.json();
    if (!who.roles.some((r) => r === 'admin' || r === 'street-duty')) return refuse();
    next();
  } catch {
    refuse();
  }
}

/**
 * Core nodes that reach the host or its network are not loaded (issue 14): exec and function run
 * code as the hub's user (`vm` is no boundary: `this.constructor.constructor('return process')()`),
 * file and watch read and write its disk, and http request, websocket, tcp, udp and mqtt open
 * connections from inside the hub's network (SSRF). Flows act through the project's gridhub nodes,
 * whose every call the hub checks; change, switch and template (JSONata, mustache) format messages.
 */
const EXCLUDED_NODES = [
  '90-exec.js',
  '10-function.js',
  '10-file.js',
  '23-watch.js',
  '21-httprequest.js',
  '22-websocket.js',
  '31-tcpin.js',
  '32-udp.js',
  '10-mqtt.js',
];

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
  nodesExcludes: EXCLUDED_NODES,
  httpNodeAuth,
  adminAuth: {
    type: 'credentials',
    sessionExpiryTime: 8 * 3600,
    users: async (username) => signedIn.get(username) ?? null,
    authenticate,
  },
  diagnostics: { enabled: false, ui: false },
  telemetry: { enabled: false, updateNotification: false },
  externalModules: {
    autoInstall: false,
    palette: { allowInstall: false, allowUpload: false },
    modules: { allowInstall: false },
  },
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
