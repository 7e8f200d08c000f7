/**
 * Proves the deployment files are sound without a Docker engine: Debian's docker-compose validates
 * docker-compose.yml; every GRIDHUB_* variable it sets is a real configuration key; the Dockerfile is
 * multi-stage, installs production dependencies only and runs as a non-root user. The cluster file
 * (deploy/docker-compose.cluster.yml, issue 19) validates too: three equal nodes on one PostgreSQL
 * and one Redis, reachable only through HAProxy, whose deploy/haproxy.cfg Debian's haproxy accepts
 * and whose servers are exactly those nodes; one Node-RED, speaking to the balancer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configKeys } from '../../src/config/load.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const env = {
  ...process.env,
  INFLUX_TOKEN: 'test-token',
  INFLUX_PASSWORD: 'test-password',
  POSTGRES_PASSWORD: 'test-pg-password',
  NODE_RED_CREDENTIAL_SECRET: 'test-secret',
};

describe('deployment files', () => {
  it('docker-compose.yml validates with docker-compose config', () => {
    const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    expect(out).toBe('');
  });

  it('refuses to start without the secrets it needs', () => {
    for (const secret of ['INFLUX_TOKEN', 'POSTGRES_PASSWORD'] as const) {
      const { [secret]: _, ...without } = env;
      expect(() =>
        execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
          cwd: ROOT,
          env: without,
          stdio: 'pipe',
        }),
      ).toThrow();
    }
  });

  it('keeps the hub’s store in the PostgreSQL service, started healthy before the hub', () => {
    const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    const compose = parse(out) as {
      services: Record<
        string,
        {
          image?: string;
          environment?: Record<string, string>;
          depends_on?: Record<string, { condition: string }>;
        }
      >;
    };
    const hub = compose.services.hub;
    expect(hub?.environment?.GRIDHUB_STORE_URL).toBe(
      'postgres://gridhub:test-pg-password@postgres:5432/gridhub',
    );
    expect(hub?.depends_on?.postgres?.condition).toBe('service_healthy');
    const pg = compose.services.postgres;
    expect(pg?.image).toMatch(/^postgres:1[5-9]/);
    expect(pg?.environment?.POSTGRES_PASSWORD).toBe('test-pg-password');
    expect(pg?.environment?.POSTGRES_DB).toBe('gridhub');
  });

  it('sets only real configuration keys on the hub', () => {
    const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8')) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['hub', 'influxdb', 'node-red', 'postgres']);
    const known = new Set(configKeys().map((k) => k.env));
    const set = Object.keys(compose.services.hub?.environment ?? {}).filter((k) => k.startsWith('GRIDHUB_'));
    expect(set.length).toBeGreaterThan(5);
    for (const name of set) expect(known.has(name), `${name} is not a configuration key`).toBe(true);
    expect(set).toContain('GRIDHUB_INFLUX_URL');
  });

  it('runs Node-RED as its own service with the project’s nodes, settings and mounted flows', () => {
    const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8')) as {
      services: Record<
        string,
        { environment?: Record<string, string>; volumes?: string[]; build?: { dockerfile: string } }
      >;
    };
    const nr = compose.services['node-red'];
    expect(nr?.build?.dockerfile).toBe('flows/Dockerfile');
    expect(nr?.volumes).toContain('./flows:/flows');
    expect(compose.services.hub?.environment?.GRIDHUB_NODE_RED_ENABLED).toBe('false');
    // Every variable the service sets is one flows/settings.js or the nodes read.
    const readByNodeRed = [
      readFileSync(`${ROOT}flows/settings.js`, 'utf8'),
      readFileSync(`${ROOT}flows/nodes/gridhub-hub.js`, 'utf8'),
    ].join('\n');
    for (const name of Object.keys(nr?.environment ?? {}).filter((k) => k.startsWith('GRIDHUB_')))
      expect(readByNodeRed, `${name} is read by nobody`).toContain(name);
    const dockerfile = readFileSync(`${ROOT}flows/Dockerfile`, 'utf8');
    expect(dockerfile).toMatch(/COPY flows\/nodes /);
    expect(dockerfile).toMatch(/--settings", "\/usr\/src\/node-red\/gridhub\/settings.js"/);
    expect(dockerfile).toMatch(/GRIDHUB_NODE_RED_FLOW_FILE=\/flows\/flows.json/);
    expect(() =>
      execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: ROOT,
        env: { ...env, NODE_RED_CREDENTIAL_SECRET: '' },
        stdio: 'pipe',
      }),
    ).toThrow();
  });

  it('builds a multi-stage, production-only, non-root image', () => {
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).not.toMatch(/COPY \. /);
    // The console is built in its own stage and only its output reaches the runtime image.
    expect(dockerfile).toMatch(/AS console/);
    expect(dockerfile).toMatch(/COPY --from=console \/app\/dashboards\/dist/);
  });

  describe('the cluster file', () => {
    const CLUSTER = 'deploy/docker-compose.cluster.yml';
    type Service = {
      image?: string;
      environment?: Record<string, string>;
      ports?: unknown[];
      volumes?: string[];
      depends_on?: Record<string, { condition: string }>;
    };
    const resolved = () =>
      parse(
        execFileSync('docker-compose', ['-f', CLUSTER, 'config'], { cwd: ROOT, env, encoding: 'utf8' }),
      ) as { services: Record<string, Service> };
    const NODES = ['hub-1', 'hub-2', 'hub-3'];

    it('validates with docker-compose config and refuses to start without its secrets', () => {
      expect(
        execFileSync('docker-compose', ['-f', CLUSTER, 'config', '-q'], { cwd: ROOT, env, encoding: 'utf8' }),
      ).toBe('');
      for (const secret of ['INFLUX_TOKEN', 'POSTGRES_PASSWORD', 'NODE_RED_CREDENTIAL_SECRET'] as const) {
        const { [secret]: _, ...without } = env;
        expect(() =>
          execFileSync('docker-compose', ['-f', CLUSTER, 'config', '-q'], {
            cwd: ROOT,
            env: without,
            stdio: 'pipe',
          }),
        ).toThrow();
      }
    });

    it('runs three equal nodes on one PostgreSQL and one Redis, each with its own id and volume', () => {
      const { services } = resolved();
      expect(Object.keys(services).sort()).toEqual(
        ['haproxy', 'influxdb', 'node-red', 'postgres', 'redis', ...NODES].sort(),
      );
      const known = new Set(configKeys().map((k) => k.env));
      const ids = new Set<string>();
      const volumes = new Set<string>();
      for (const name of NODES) {
        const node = services[name] as Service;
        const e = node.environment ?? {};
        expect(e.GRIDHUB_STORE_URL).toBe('postgres://gridhub:test-pg-password@postgres:5432/gridhub');
        expect(e.GRIDHUB_CLUSTER_REDIS_URL).toBe('redis://redis:6379');
        expect(e.GRIDHUB_NODE_RED_ENABLED).toBe('false');
        expect(e.GRIDHUB_HTTP_TRUST_PROXY).toBe('true');
        ids.add(e.GRIDHUB_CLUSTER_NODE_ID as string);
        volumes.add(String(node.volumes?.[0]).split(':')[0] as string);
        for (const key of Object.keys(e).filter((k) => k.startsWith('GRIDHUB_')))
          expect(known.has(key), `${name}: ${key} is not a configuration key`).toBe(true);
        // devices and people reach the nodes only through the balancer
        expect(node.ports ?? []).toEqual([]);
        expect(node.depends_on?.postgres?.condition).toBe('service_healthy');
        expect(node.depends_on?.redis?.condition).toBe('service_healthy');
      }
      expect([...ids].sort()).toEqual(NODES);
      expect(volumes.size).toBe(3);
      expect(services.postgres?.image).toMatch(/^postgres:1[5-9]/);
      expect(services.redis?.image).toMatch(/^redis:[67]/);
    });

    it('puts HAProxy in front with the shipped config, whose servers are exactly the nodes', () => {
      const { services } = resolved();
      const lb = services.haproxy as Service;
      expect(lb.image).toMatch(/^haproxy:2\./);
      expect(
        lb.volumes?.some((v) => v.endsWith('deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro')),
      ).toBe(true);
      expect(JSON.stringify(lb.ports)).toContain('1883');
      expect(JSON.stringify(lb.ports)).toContain('8080');
      const cfg = readFileSync(`${ROOT}deploy/haproxy.cfg`, 'utf8');
      const servers = (backend: string) => {
        const out: string[] = [];
        let inside = false;
        for (const line of cfg.split('\n')) {
          if (/^\S/.test(line)) inside = line.trim() === `backend ${backend}`;
          const m = /^\s+server (\S+) (\S+)/.exec(line);
          if (inside && m) out.push(`${m[1]}=${m[2]}`);
        }
        return out;
      };
      expect(servers('hubs_mqtt')).toEqual(NODES.map((n) => `${n}=${n}:1883`));
      expect(servers('hubs_http')).toEqual(NODES.map((n) => `${n}=${n}:8080`));
      // Debian's haproxy accepts it (the nodes' names do not resolve here; HAProxy finds them later)
      const check = spawnSync('haproxy', ['-c', '-f', `${ROOT}deploy/haproxy.cfg`], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    });

    it('runs exactly one Node-RED, speaking to the cluster through the balancer', () => {
      const { services } = resolved();
      const nr = services['node-red'] as Service;
      expect(Object.keys(services).filter((s) => s.includes('node-red'))).toEqual(['node-red']);
      expect(nr.environment?.GRIDHUB_URL).toBe('http://haproxy:8080');
      expect(nr.environment?.GRIDHUB_MQTT_URL).toBe('mqtt://haproxy:1883');
    });
  });
});
