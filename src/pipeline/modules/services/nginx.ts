import { catalogued } from '../../../predict/service-catalog.js';
import type { ServiceTuner } from './tuner.js';
import { header } from './tuner.js';

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * nginx: one worker per vCPU; enough connections per worker for the predicted concurrency
 * (twice, since a proxied request holds two), never fewer than Debian's usual 768 → 1024.
 * The default site listens on every interface only when port 80 is opened inbound. TLS (443)
 * needs a per-machine certificate, which nothing prepares yet: 443 is not answered.
 */
export const nginxTuner: ServiceTuner = {
  service: catalogued('nginx'),
  name: 'nginx',
  package: () => 'nginx',
  unit: 'nginx.service',
  user: 'www-data',
  ports: [80],
  memoryHungry: false,
  configure({ exposed }) {
    const listen = exposed ? ['80 default_server', '[::]:80 default_server'] : ['127.0.0.1:80 default_server', '[::1]:80 default_server'];
    const site = `# Written by Prescient (services module): ${exposed ? 'port 80 is opened inbound' : 'port 80 is not opened inbound: loopback only'}.
server {
${listen.map((l) => `\tlisten ${l};`).join('\n')}
\troot /var/www/html;
\tindex index.html index.htm index.nginx-debian.html;
\tserver_name _;
\tlocation / {
\t\ttry_files $uri $uri/ =404;
\t}
}
`;
    return [{ kind: 'write-file', path: '/etc/nginx/sites-available/default', content: site, mode: 0o644 }];
  },
  // nginx's own check, as its unit runs it (the master is root; workers are www-data).
  check: () => ({ kind: 'run-command', argv: ['nginx', '-t', '-q'], timeoutSeconds: 60 }),
  tune({ service, spec }) {
    const workers = spec.vcpus;
    const perWorker = nextPowerOfTwo(Math.max(1024, Math.ceil((service.concurrency * 2) / workers)));
    const rps = service.expectedLoad.requestsPerSecond ?? 0;
    const conf = `${header('nginx', service, spec)}
user www-data;
worker_processes ${workers};
worker_rlimit_nofile ${perWorker * 2};
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {
	worker_connections ${perWorker};
	multi_accept on;
}

http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	keepalive_timeout ${rps > 1000 ? 15 : 65};
	keepalive_requests ${rps > 1000 ? 10000 : 1000};
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_prefer_server_ciphers on;
	access_log /var/log/nginx/access.log;
	gzip on;
	include /etc/nginx/conf.d/*.conf;
	include /etc/nginx/sites-enabled/*;
}
`;
    return [{ kind: 'write-file', path: '/etc/nginx/nginx.conf', content: conf, mode: 0o644 }];
  },
};
